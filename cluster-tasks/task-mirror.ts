import type { ChangeSource } from "../tasks/long-poll.js";
import type { TaskResult } from "../tasks/messages.js";
import type { StoredTask } from "../tasks/task-store.js";
import { WakeListeners } from "../tasks/wake-listeners.js";
import {
  decodeHubIdRecord,
  decodeResultRecord,
  decodeTaskRecord,
  parseTaskKey,
  resultKey,
  type TaskRecord,
} from "./task-records.js";

/** One change of the bucket, as a KV watch (or this hub's own write) brings it. */
export interface BucketChange {
  readonly key: string;
  readonly value: Uint8Array;
  /** The stream sequence of the change: it orders every change of the bucket. */
  readonly revision: number;
  readonly operation: "PUT" | "DEL" | "PURGE";
}

/** A mirrored task: what {@link StoredTask} holds, and where it came from. */
export interface MirroredTask extends StoredTask {
  /** The hub the task was posted at (it removes the task when it expires). */
  readonly hub: string;
  readonly revision: number;
}

/** Options of {@link TaskMirror}. */
export interface TaskMirrorOptions {
  /** The Samply broker id that every task id belongs to (records outside it are malformed). */
  broker: string;
  /** A result whose task is gone (it raced the task's expiry): the bucket should drop it. */
  onOrphan: (key: string, revision: number) => void;
  /** A record that could not be read (a `TaskRecordError`): it is skipped. */
  onError: (error: unknown) => void;
  now?: () => number;
}

/**
 * This hub's copy of the cluster's task bucket, kept by a KV watch, so that reads and long polls
 * cost no NATS round trip and a long poll is woken by the change it waits for — `task:<id>` (its
 * results, its removal) and `app:<id>` (tasks sent by or to that app, that app's results), the
 * keys of the one-hub `TaskStore`. A change is applied only when its revision is newer than the
 * key's, so this hub's own writes (applied at once) and the watch's later copy of them agree.
 */
export class TaskMirror implements ChangeSource {
  readonly #tasks = new Map<string, MirroredTask>();
  readonly #resultRevisions = new Map<string, number>();
  readonly #addressedTo = new Map<string, Set<MirroredTask>>();
  readonly #hubIds = new Set<string>();
  readonly #listeners = new WakeListeners();
  readonly #options: TaskMirrorOptions;
  readonly #now: () => number;
  #seen = 0;
  #caughtUp: { revision: number; resolve: () => void }[] = [];

  constructor(options: TaskMirrorOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** The newest revision the watch has delivered. */
  get seen(): number {
    return this.#seen;
  }

  /** Tasks held, expired ones not yet removed from the bucket included. */
  get size(): number {
    return this.#tasks.size;
  }

  /** A change the watch delivered (in revision order). */
  watched(change: BucketChange): void {
    this.#apply(change);
    if (change.revision > this.#seen) this.#seen = change.revision;
    const ready = this.#caughtUp.filter((waiter) => waiter.revision <= this.#seen);
    if (ready.length > 0) {
      this.#caughtUp = this.#caughtUp.filter((waiter) => waiter.revision > this.#seen);
      for (const waiter of ready) waiter.resolve();
    }
  }

  /**
   * A change this hub just made, applied before the watch brings it (so that this hub reads its
   * own writes). Ignored when the watch has already gone past it: it then applied it, and maybe
   * newer changes of the same key.
   */
  wrote(change: BucketChange): void {
    if (change.revision > this.#seen) this.#apply(change);
  }

  /** Resolves once the watch has delivered `revision`; false after `timeoutMs`. */
  reached(revision: number, timeoutMs: number): Promise<boolean> {
    if (revision <= this.#seen) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        revision,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.#caughtUp = this.#caughtUp.filter((other) => other !== waiter);
        resolve(false);
      }, timeoutMs);
      this.#caughtUp.push(waiter);
    });
  }

  /** The live task with that id. */
  get(id: string): MirroredTask | undefined {
    const task = this.#tasks.get(id);
    return task !== undefined && this.isLive(task) ? task : undefined;
  }

  /** Live tasks that `accept`; with `to`, only among those addressed to it (an index, not a scan). */
  filter(accept: (task: MirroredTask) => boolean, to?: string): MirroredTask[] {
    const candidates = to === undefined ? this.#tasks.values() : (this.#addressedTo.get(to) ?? []);
    const found: MirroredTask[] = [];
    for (const task of candidates) if (this.isLive(task) && accept(task)) found.push(task);
    // Posting order across hubs is the order of the bucket.
    return found.sort((a, b) => a.revision - b.revision);
  }

  /** Every task held, expired ones included (for the sweeper). */
  all(): IterableIterator<MirroredTask> {
    return this.#tasks.values();
  }

  /** Whether some hub of the cluster serves Samply hub id `hubId`. */
  servesHubId(hubId: string): boolean {
    return this.#hubIds.has(hubId);
  }

  /** Live tasks posted by `app`, and in all (for the limits; each hub counts what it sees). */
  counts(app: string): { all: number; byApp: number } {
    let all = 0;
    let byApp = 0;
    for (const task of this.#tasks.values()) {
      if (!this.isLive(task)) continue;
      all++;
      if (task.task.from === app) byApp++;
    }
    return { all, byApp };
  }

  isLive(task: StoredTask): boolean {
    return task.expiresAt > this.#now();
  }

  /** Milliseconds until `task` expires (0 when it has). */
  remaining(task: StoredTask): number {
    return Math.max(0, task.expiresAt - this.#now());
  }

  listen(keys: readonly string[], listener: () => void): () => void {
    return this.#listeners.listen(keys, listener);
  }

  #apply(change: BucketChange): void {
    const key = parseTaskKey(change.key);
    if (key === undefined) return; // a key of a newer version: not ours to read
    const put = change.operation === "PUT";
    try {
      if (key.kind === "task") {
        const current = this.#tasks.get(key.id);
        if (current !== undefined && current.revision >= change.revision) return;
        if (current !== undefined) this.#remove(current);
        if (put) this.#add(decodeTaskRecord(change.key, change.value, this.#options.broker), change.revision);
      } else if (key.kind === "result") {
        if ((this.#resultRevisions.get(change.key) ?? 0) >= change.revision) return;
        const task = this.#tasks.get(key.id);
        if (!put) {
          this.#resultRevisions.delete(change.key);
          if (task?.results.delete(key.worker) === true) this.#wake(`task:${key.id}`);
          return;
        }
        const result = decodeResultRecord(change.key, change.value, this.#options.broker);
        if (task === undefined) {
          this.#options.onOrphan(change.key, change.revision);
          return;
        }
        this.#resultRevisions.set(change.key, change.revision);
        this.#setResult(task, result);
      } else if (put) {
        decodeHubIdRecord(change.key, change.value);
        this.#hubIds.add(key.hubId);
      }
    } catch (error) {
      this.#options.onError(error);
    }
  }

  #add(record: TaskRecord, revision: number): void {
    const task: MirroredTask = {
      task: record.task,
      expiresAt: record.expires,
      hub: record.hub,
      revision,
      results: new Map(),
    };
    this.#tasks.set(task.task.id, task);
    for (const to of new Set(task.task.to)) {
      let tasks = this.#addressedTo.get(to);
      if (tasks === undefined) this.#addressedTo.set(to, (tasks = new Set()));
      tasks.add(task);
    }
    this.#wake(`app:${task.task.from}`);
    for (const to of task.task.to) this.#wake(`app:${to}`);
  }

  #setResult(task: MirroredTask, result: TaskResult): void {
    task.results.set(result.from, result);
    this.#wake(`task:${task.task.id}`);
    this.#wake(`app:${result.from}`);
  }

  #remove(task: MirroredTask): void {
    this.#tasks.delete(task.task.id);
    for (const worker of task.results.keys()) this.#resultRevisions.delete(resultKey(task.task.id, worker));
    for (const to of task.task.to) {
      const tasks = this.#addressedTo.get(to);
      tasks?.delete(task);
      if (tasks?.size === 0) this.#addressedTo.delete(to);
    }
    this.#wake(`task:${task.task.id}`);
  }

  #wake(key: string): void {
    this.#listeners.wake(key);
  }
}
