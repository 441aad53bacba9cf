import type { PollAnswer, WaitCondition } from "./long-poll.js";
import type { Task, TaskResult } from "./messages.js";
import type { TaskQuery } from "./task-query.js";

/**
 * Where a site hub's tasks live when it is one site of a federation: at the broker, as with
 * Samply.Beam, so that a task addressed to `app2.proxy2.broker` reaches its worker wherever it is
 * posted. A {@link TaskBroker} that {@link TaskBroker.federate | federates} checks keys, shapes and
 * "who may send as whom" itself, then hands each operation here with the *authenticated*
 * application id; the implementation (`federation-tasks/`) seals bodies before they leave the
 * site and opens them when they come back. Errors are `TaskError`s with Samply's statuses.
 */
export interface TaskFederation {
  /** Stores `task` (already checked; `ttl` as posted) at the broker. 424 for a recipient hub that cannot be reached. */
  post(app: string, task: Task): Promise<Task>;
  tasks(app: string, query: TaskQuery, wait: WaitCondition, signal?: AbortSignal): Promise<PollAnswer<Task>>;
  task(app: string, id: string, wait: WaitCondition, signal?: AbortSignal): Promise<Task>;
  results(
    app: string,
    id: string,
    wait: WaitCondition,
    signal?: AbortSignal,
  ): Promise<PollAnswer<TaskResult>>;
  /** Stores `result` (already checked) for task `id`. */
  putResult(app: string, id: string, result: TaskResult): Promise<"created" | "updated">;
  /**
   * Tasks held where this hub can count them, when the federation keeps a copy here (a cluster's
   * hubs each mirror the shared bucket): then what `TaskBroker.taskCount` reports. Left
   * out when the tasks live elsewhere (a federation's broker): the local count stands.
   */
  readonly size?: number;
  /** Requests waiting in the federation at this hub (long polls): added to `TaskBroker.waiting`. */
  readonly waiting?: number;
}
