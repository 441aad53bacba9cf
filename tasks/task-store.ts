import { TaskExistsError, TaskLimitError } from "./errors.js";
import type { Task, TaskResult, TaskSubmission } from "./messages.js";
import { WakeListeners } from "./wake-listeners.js";

/** A live task: what was posted, when it expires, and one result per worker. */
export interface StoredTask {
  readonly task: Omit<Task, "ttl">;
  readonly expiresAt: number;
  /** Results by worker id: one per worker, the latest write wins (but see {@link TaskStore.putResult}). */
  readonly results: Map<string, TaskResult>;
}

/** Bounds of a {@link TaskStore}. */
export interface TaskStoreLimits {
  /** Live tasks one application may have posted (default 10,000). */
  maxTasksPerApp: number;
  /** Live tasks in all (default 100,000). */
  maxTasks: number;
}

export const DEFAULT_STORE_LIMITS: TaskStoreLimits = { maxTasksPerApp: 10_000, maxTasks: 100_000 };

type Listener = () => void;

/**
 * The tasks of one hub, in memory. Every change wakes the listeners of the keys it touches —
 * `task:<id>` (its results, its expiry) and `app:<id>` (tasks sent by or to that app) — so a
 * long poll re-checks only when something it can see changed. Expired tasks are invisible at
 * once and removed by {@link sweep}.
 */
export class TaskStore {
  readonly #tasks = new Map<string, StoredTask>();
  readonly #postedBy = new Map<string, number>();
  /** Tasks by each recipient, so that a to-do list costs what that worker has, not the hub. */
  readonly #addressedTo = new Map<string, Set<StoredTask>>();
  readonly #listeners = new WakeListeners();
  readonly #limits: TaskStoreLimits;
  readonly #now: () => number;

  constructor(limits: Partial<TaskStoreLimits> = {}, now: () => number = Date.now) {
    this.#limits = { ...DEFAULT_STORE_LIMITS, ...limits };
    this.#now = now;
  }

  /** Number of tasks held, expired but not yet swept included. */
  get size(): number {
    return this.#tasks.size;
  }

  /** Adds a task. A live task with the same id is a conflict; an expired one is replaced. */
  post(submission: TaskSubmission): StoredTask {
    const existing = this.#tasks.get(submission.id);
    if (existing !== undefined) {
      if (this.#isLive(existing)) throw new TaskExistsError(submission.id);
      this.#remove(existing);
    }
    if (this.#tasks.size >= this.#limits.maxTasks)
      throw new TaskLimitError(`the hub holds ${this.#limits.maxTasks} tasks`);
    if ((this.#postedBy.get(submission.from) ?? 0) >= this.#limits.maxTasksPerApp) {
      throw new TaskLimitError(`${submission.from} has ${this.#limits.maxTasksPerApp} live tasks`);
    }
    const { ttlMs, ...task } = submission;
    return this.restore({ task, expiresAt: this.#now() + ttlMs, results: new Map() });
  }

  /** Adds a task as it was (from the log); wakes its listeners. */
  restore(stored: StoredTask): StoredTask {
    this.#tasks.set(stored.task.id, stored);
    this.#postedBy.set(stored.task.from, (this.#postedBy.get(stored.task.from) ?? 0) + 1);
    for (const to of new Set(stored.task.to)) {
      let tasks = this.#addressedTo.get(to);
      if (tasks === undefined) this.#addressedTo.set(to, (tasks = new Set()));
      tasks.add(stored);
    }
    this.#wake(`app:${stored.task.from}`);
    for (const to of stored.task.to) this.#wake(`app:${to}`);
    return stored;
  }

  /** The live task with that id. */
  get(id: string): StoredTask | undefined {
    const stored = this.#tasks.get(id);
    return stored !== undefined && this.#isLive(stored) ? stored : undefined;
  }

  /**
   * Live tasks that `accept`, in posting order; with `to`, only among the tasks addressed to it
   * (an index, not a scan of the hub's tasks).
   */
  filter(accept: (stored: StoredTask) => boolean, to?: string): StoredTask[] {
    const found: StoredTask[] = [];
    const candidates = to === undefined ? this.#tasks.values() : (this.#addressedTo.get(to) ?? []);
    for (const stored of candidates) if (this.#isLive(stored) && accept(stored)) found.push(stored);
    return found;
  }

  /** Every task, expired ones included (for the log's compaction). */
  all(): IterableIterator<StoredTask> {
    return this.#tasks.values();
  }

  /**
   * Stores `result` as its worker's answer. A late `claimed` never replaces a `succeeded` (a
   * worker's "I'm on it" racing its own answer must not undo it; Samply 0.9 fixed the same race).
   * Returns whether the worker had answered before, or `kept` when the claim was ignored.
   */
  putResult(stored: StoredTask, result: TaskResult): "created" | "updated" | "kept" {
    const previous = stored.results.get(result.from);
    if (previous?.status === "succeeded" && result.status === "claimed") return "kept";
    stored.results.set(result.from, result);
    this.#wake(`task:${stored.task.id}`);
    this.#wake(`app:${result.from}`);
    return previous === undefined ? "created" : "updated";
  }

  /** Milliseconds until `stored` expires (0 when it has). */
  remaining(stored: StoredTask): number {
    return Math.max(0, stored.expiresAt - this.#now());
  }

  /** Removes expired tasks and their results, waking whoever waits on them. Returns the removed ones. */
  sweep(): StoredTask[] {
    const removed: StoredTask[] = [];
    for (const stored of this.#tasks.values()) {
      if (!this.#isLive(stored)) {
        this.#remove(stored);
        removed.push(stored);
      }
    }
    return removed;
  }

  /** Calls `listener` after every change under one of `keys`; returns the function that stops it. */
  listen(keys: readonly string[], listener: Listener): () => void {
    return this.#listeners.listen(keys, listener);
  }

  #isLive(stored: StoredTask): boolean {
    return stored.expiresAt > this.#now();
  }

  #remove(stored: StoredTask): void {
    if (this.#tasks.get(stored.task.id) !== stored) return;
    this.#tasks.delete(stored.task.id);
    for (const to of stored.task.to) {
      const tasks = this.#addressedTo.get(to);
      tasks?.delete(stored);
      if (tasks?.size === 0) this.#addressedTo.delete(to);
    }
    const count = (this.#postedBy.get(stored.task.from) ?? 1) - 1;
    if (count === 0) this.#postedBy.delete(stored.task.from);
    else this.#postedBy.set(stored.task.from, count);
    this.#wake(`task:${stored.task.id}`);
  }

  #wake(key: string): void {
    this.#listeners.wake(key);
  }
}
