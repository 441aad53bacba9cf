import { TaskNotFoundError } from "./errors.js";
import {
  longPoll,
  type ChangeSource,
  type PollAnswer,
  type WaitCondition,
  type WaiterBudget,
} from "./long-poll.js";
import type { Task, TaskResult } from "./messages.js";
import type { TaskQuery } from "./task-query.js";
import type { StoredTask } from "./task-store.js";

/**
 * What Samply's three long polls read, whatever keeps the tasks: one hub's `TaskStore`, or a
 * cluster's mirror of a shared bucket (cluster-tasks/). Live tasks only; a change of an app's
 * tasks wakes `app:<id>`, a change of a task's results `task:<id>`.
 */
export interface PolledTasks<S extends StoredTask> extends ChangeSource {
  get(id: string): S | undefined;
  /** The live tasks `accept` takes; `to`, when given, narrows to tasks addressed to it. */
  filter(accept: (stored: S) => boolean, to?: string): S[];
}

/** The long polls over one store: where it wakes them, and the budget of waiting requests. */
export interface TaskPollContext<S extends StoredTask> {
  readonly store: PolledTasks<S>;
  readonly waiters: WaiterBudget;
  /** A stored task as it is answered. */
  toTask(stored: S): Task;
}

/** A worker's result with one of these statuses takes the task off its to-do list. */
const DONE: ReadonlySet<string> = new Set(["claimed", "succeeded", "permfailed"]);

/**
 * `GET /v1/tasks`: the tasks `app` sent (`from`), is addressed (`to`), or has still to do
 * (`todo`), waiting as `wait` asks. The caller has checked that `app` may ask this.
 */
export function pollTasks<S extends StoredTask>(
  context: TaskPollContext<S>,
  app: string,
  query: TaskQuery,
  wait: WaitCondition,
  signal?: AbortSignal,
): Promise<PollAnswer<Task>> {
  const to = query.to ?? (query.todo === true ? app : undefined);
  const select = (stored: S): boolean =>
    (query.from === undefined || stored.task.from === query.from) &&
    (to === undefined || stored.task.to.includes(to)) &&
    (query.todo !== true || !DONE.has(stored.results.get(app)?.status ?? "none"));
  return longPoll(
    context.store,
    [`app:${app}`],
    () => {
      const items = context.store.filter(select, to).map((stored) => context.toTask(stored));
      return { items, counted: items.length };
    },
    wait,
    context.waiters,
    signal,
  );
}

/**
 * `GET /v1/tasks/<id>`: the task, if `app` sent it or is one of its workers; unknown and
 * invisible look the same (`TaskNotFoundError`, 404). With a time, waits for it to appear.
 */
export async function pollTask<S extends StoredTask>(
  context: TaskPollContext<S>,
  app: string,
  id: string,
  wait: WaitCondition,
  signal?: AbortSignal,
): Promise<Task> {
  const visible = (): S | undefined => {
    const stored = context.store.get(id);
    return stored !== undefined && (stored.task.from === app || stored.task.to.includes(app))
      ? stored
      : undefined;
  };
  const answer = await longPoll(
    context.store,
    [`app:${app}`],
    () => {
      const stored = visible();
      return { items: stored === undefined ? [] : [stored], counted: stored === undefined ? 0 : 1 };
    },
    wait.timeMs === undefined ? {} : { count: 1, timeMs: wait.timeMs },
    context.waiters,
    signal,
  );
  const stored = answer.items[0];
  if (stored === undefined) throw new TaskNotFoundError(id);
  return context.toTask(stored);
}

/**
 * `GET /v1/tasks/<id>/results` of a task `app` sent (`stored`, checked by the caller): the
 * results addressed to `app`; `claimed` ones are listed but do not count towards `wait.count`.
 */
export function pollResults<S extends StoredTask>(
  context: TaskPollContext<S>,
  app: string,
  stored: S,
  wait: WaitCondition,
  signal?: AbortSignal,
): Promise<PollAnswer<TaskResult>> {
  return longPoll(
    context.store,
    [`task:${stored.task.id}`],
    () => resultsFor(stored, app),
    wait,
    context.waiters,
    signal,
  );
}

/** The results of `stored` addressed to `app`, and how many are answers (not claims). */
export function resultsFor(stored: StoredTask, app: string): { items: TaskResult[]; counted: number } {
  const items = [...stored.results.values()].filter((result) => result.to.includes(app));
  return { items, counted: items.filter((result) => result.status !== "claimed").length };
}
