import type { KV, KvWatchEntry } from "@nats-io/kv";
import { classifyId, type HubId } from "../tasks/beam-id.js";
import { parseDuration } from "../tasks/duration.js";
import {
  TaskExistsError,
  TaskForbiddenError,
  TaskLimitError,
  TaskNotFoundError,
  UnreachableRecipientsError,
} from "../tasks/errors.js";
import { WaiterBudget, type PollAnswer, type WaitCondition } from "../tasks/long-poll.js";
import { pollResults, pollTask, pollTasks, type TaskPollContext } from "../tasks/task-polls.js";
import type { Task, TaskResult } from "../tasks/messages.js";
import type { TaskFederation } from "../tasks/task-federation.js";
import type { TaskQuery } from "../tasks/task-query.js";
import type { StoredTask } from "../tasks/task-store.js";
import { ClusterTasksUnavailableError, TaskRecordError } from "./errors.js";
import { TaskMirror, type BucketChange, type MirroredTask } from "./task-mirror.js";
import {
  decodeResultRecord,
  decodeTaskRecord,
  encodeHubIdRecord,
  encodeResultRecord,
  encodeTaskRecord,
  hubIdKey,
  resultKey,
  resultKeys,
  taskKey,
} from "./task-records.js";

/** Bounds and timing of a {@link ClusterTaskStore}. */
export interface ClusterTaskLimits {
  /** Live tasks in the cluster (default 100,000), as this hub counts them. */
  maxTasks: number;
  /** Live tasks one application may have posted (default 10,000). */
  maxTasksPerApp: number;
  /** Long polls waiting at this hub at once (default 10,000). */
  maxWaiters: number;
  /** How long one operation retries while NATS or JetStream is unavailable (default 20 s), then 503. */
  retryMs: number;
  /** How often expired tasks are removed from the bucket, in ms (default 1000). */
  sweepIntervalMs: number;
  /**
   * How long after its expiry a task posted at another hub is removed by this one, in ms
   * (default 5000): its own hub removes it at once, unless that hub is gone.
   */
  orphanGraceMs: number;
}

/** The bounds of a {@link ClusterTaskStore} when its options leave them out. */
export const DEFAULT_CLUSTER_TASK_LIMITS: ClusterTaskLimits = {
  maxTasks: 100_000,
  maxTasksPerApp: 10_000,
  maxWaiters: 10_000,
  retryMs: 20_000,
  sweepIntervalMs: 1000,
  orphanGraceMs: 5000,
};

/** Options of {@link ClusterTaskStore.open}. */
export interface ClusterTaskStoreOptions {
  /** This hub's name in the cluster. */
  self: string;
  /** This hub's Samply id (`proxy1.broker`). */
  hubId: HubId;
  limits?: Partial<ClusterTaskLimits>;
  /** Background errors: unreadable records (`TaskRecordError`), failed removals. */
  onError?: (error: unknown) => void;
}

/** How long a read waits for the watch to bring what the bucket already holds. */
const CATCH_UP_MS = 1000;
/** How often the watch is checked for a stall (its consumer on a NATS node that died). */
const WATCH_CHECK_MS = 1000;

/**
 * The Samply tasks of a cluster, kept in one JetStream KV bucket so that every hub's REST face
 * reads and writes the same tasks and results (give it to `TaskBroker.federate`). Reads are
 * answered from a {@link TaskMirror} kept by a watch, after checking that the watch holds every
 * change the bucket had when the read began, so that a task posted at one hub is seen at once at
 * every other. Writes are conditional on the revision they read (`create`, `update`): task ids
 * are unique across hubs, and a result is "created" exactly once however many hubs race. An
 * expired task is removed once: by the hub it was posted at, or after a grace by any, with a
 * delete conditional on its revision.
 */
export class ClusterTaskStore implements TaskFederation {
  readonly #kv: KV;
  readonly #mirror: TaskMirror;
  readonly #options: ClusterTaskStoreOptions;
  readonly #limits: ClusterTaskLimits;
  readonly #waiters: WaiterBudget;
  readonly #polls: TaskPollContext<MirroredTask>;
  readonly #onError: (error: unknown) => void;
  readonly #timers: NodeJS.Timeout[] = [];
  #watch: { stop(): void } | undefined;
  #closed = false;
  #sweeping = false;
  #expired = 0;

  private constructor(kv: KV, options: ClusterTaskStoreOptions) {
    this.#kv = kv;
    this.#options = options;
    this.#limits = { ...DEFAULT_CLUSTER_TASK_LIMITS, ...options.limits };
    this.#waiters = new WaiterBudget(this.#limits.maxWaiters);
    this.#onError = options.onError ?? (() => undefined);
    this.#mirror = new TaskMirror({
      broker: options.hubId.broker,
      onError: this.#onError,
      onOrphan: (key, revision) => void this.#dropOrphan(key, revision).catch(this.#onError),
    });
    // The same long polls as one hub's TaskBroker, over this hub's copy of the bucket.
    this.#polls = { store: this.#mirror, waiters: this.#waiters, toTask: (stored) => this.#toTask(stored) };
  }

  /**
   * Serves the tasks of `kv` (the cluster's task bucket, `beam_<ns>_tasks`): says that this hub
   * serves its Samply id, and loads every task before it resolves.
   */
  static async open(
    kv: KV,
    options: ClusterTaskStoreOptions,
    serverVersion?: string,
  ): Promise<ClusterTaskStore> {
    const store = new ClusterTaskStore(kv, options);
    const version = serverVersion ?? "";
    if (!serializesConditionalWrites(version))
      store.#onError(
        new Error(
          `nats-server ${version} may accept two racing conditional writes of one key in a clustered ` +
            "stream (nats-server#4320, fixed in 2.9.21): a task or first result written at the same " +
            "moment at two hubs may then be stored twice; use nats-server 2.9.21 or later",
        ),
      );
    try {
      await store.#retrying("announce this hub's id", () =>
        kv.put(hubIdKey(options.hubId.id), encodeHubIdRecord(options.self)),
      );
      await store.#startWatch(undefined);
      await store.#synced();
    } catch (error) {
      await store.close();
      throw error;
    }
    store.#timers.push(
      setInterval(() => void store.#sweep().catch(store.#onError), store.#limits.sweepIntervalMs).unref(),
      setInterval(() => void store.#checkWatch().catch(store.#onError), WATCH_CHECK_MS).unref(),
    );
    return store;
  }

  /** Tasks this hub removed from the bucket at their expiry, since it opened. */
  get expired(): number {
    return this.#expired;
  }

  /** Long polls waiting at this hub right now. */
  get waiting(): number {
    return this.#waiters.waiting;
  }

  /** Tasks held in this hub's copy of the bucket. */
  get size(): number {
    return this.#mirror.size;
  }

  async post(_app: string, task: Task): Promise<Task> {
    const ttlMs = parseDuration(task.ttl, "s", "ttl");
    this.#mustReach(task.to);
    const { ttl: _ttl, ...clear } = task;
    await this.#synced();
    const counts = this.#mirror.counts(task.from);
    if (counts.all >= this.#limits.maxTasks)
      throw new TaskLimitError(`the cluster holds ${this.#limits.maxTasks} tasks`);
    if (counts.byApp >= this.#limits.maxTasksPerApp)
      throw new TaskLimitError(`${task.from} has ${this.#limits.maxTasksPerApp} live tasks`);
    const record = encodeTaskRecord({ task: clear, expires: Date.now() + ttlMs, hub: this.#options.self });
    const key = taskKey(task.id);
    for (let attempt = 0; ; attempt++) {
      try {
        const revision = await this.#retrying("store the task", () => this.#kv.create(key, record));
        this.#mirror.wrote(change(key, record, revision));
        return { ...clear, ttl: String(Math.floor(ttlMs / 1000)) };
      } catch (error) {
        if (!isConflict(error) || attempt > 0) throw conflictAsExists(error, task.id);
      }
      // The id is taken: by this very record (a retried create whose first try landed), by an
      // expired task not removed yet (removed now, then created again), or by a live task (409).
      const existing = await this.#retrying("read the task", () => this.#kv.get(key));
      if (existing === null || existing.operation !== "PUT") continue;
      if (existing.string() === record) {
        this.#mirror.wrote(existing);
        return { ...clear, ttl: String(Math.floor(ttlMs / 1000)) };
      }
      let expires = 0;
      try {
        expires = decodeTaskRecord(key, existing.value, this.#options.hubId.broker).expires;
      } catch (decodeError) {
        if (!(decodeError instanceof TaskRecordError)) throw decodeError;
      }
      if (expires > Date.now()) throw new TaskExistsError(task.id);
      await this.#remove(task.id, existing.revision);
    }
  }

  async tasks(
    app: string,
    query: TaskQuery,
    wait: WaitCondition,
    signal?: AbortSignal,
  ): Promise<PollAnswer<Task>> {
    await this.#synced();
    return pollTasks(this.#polls, app, query, wait, signal);
  }

  async task(app: string, id: string, wait: WaitCondition, signal?: AbortSignal): Promise<Task> {
    await this.#synced();
    return pollTask(this.#polls, app, id, wait, signal);
  }

  async results(
    app: string,
    id: string,
    wait: WaitCondition,
    signal?: AbortSignal,
  ): Promise<PollAnswer<TaskResult>> {
    await this.#synced();
    const stored = this.#mirror.get(id);
    if (stored === undefined) throw new TaskNotFoundError(id);
    if (stored.task.from !== app) throw new TaskForbiddenError("");
    return pollResults(this.#polls, app, stored, wait, signal);
  }

  /**
   * Stores a worker's result, conditional on the revision read: of racing first results exactly
   * one is `created`. A `claimed` never replaces a `succeeded` (as on one hub).
   */
  async putResult(_app: string, id: string, result: TaskResult): Promise<"created" | "updated"> {
    this.#mustReach(result.to);
    const key = resultKey(id, result.from);
    const value = encodeResultRecord(result);
    for (let attempt = 0; attempt < MAX_RACES; attempt++) {
      // The task as the bucket has it now, not as this hub's copy may still have it.
      const entry = await this.#retrying("read the task", () => this.#kv.get(taskKey(id)));
      if (entry === null || entry.operation !== "PUT") throw new TaskNotFoundError(id);
      const record = decodeTaskRecord(entry.key, entry.value, this.#options.hubId.broker);
      if (record.expires <= Date.now()) throw new TaskNotFoundError(id);
      if (!record.task.to.includes(result.from))
        throw new TaskForbiddenError("Not allowed to access this task");
      this.#mirror.wrote(entry);
      const current = await this.#retrying("read the result", () => this.#kv.get(key));
      const first = current === null || current.operation !== "PUT";
      if (
        !first &&
        result.status === "claimed" &&
        previousStatus(current, this.#options.hubId.broker) === "succeeded"
      )
        return "updated";
      try {
        const revision = await this.#retrying("store the result", () =>
          first ? this.#kv.create(key, value) : this.#kv.update(key, value, current.revision),
        );
        this.#mirror.wrote(change(key, value, revision));
        return first ? "created" : "updated";
      } catch (error) {
        if (!isConflict(error)) throw error;
        // Another hub wrote this worker's result in between: read it again and decide again.
      }
    }
    throw new ClusterTasksUnavailableError(
      `the result of ${result.from} for task ${id} kept changing under ${MAX_RACES} writes`,
    );
  }

  /** Stops the watch and the timers. The bucket and this hub's id record stay. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const timer of this.#timers) clearInterval(timer);
    this.#watch?.stop();
  }

  /** Recipients must live on a hub id some hub of the cluster serves (else 424, as on one hub). */
  #mustReach(to: readonly string[]): void {
    const unreachable = new Set<string>();
    for (const id of to) {
      const { hub } = classifyId(id, this.#options.hubId.broker);
      if (hub !== this.#options.hubId.id && !this.#mirror.servesHubId(hub)) unreachable.add(hub);
    }
    if (unreachable.size > 0) throw new UnreachableRecipientsError([...unreachable]);
  }

  #toTask(stored: StoredTask): Task {
    return { ...stored.task, ttl: String(Math.floor(this.#mirror.remaining(stored) / 1000)) };
  }

  /**
   * Waits until the watch has brought every change the bucket held when called: what another hub
   * wrote before this read began is seen. A watch that stalls is started again; 503 after that.
   */
  async #synced(): Promise<void> {
    const status = await this.#retrying("read the bucket's state", () => this.#kv.status());
    const last = status.streamInfo.state.last_seq;
    if (await this.#mirror.reached(last, CATCH_UP_MS)) return;
    await this.#startWatch(this.#mirror.seen + 1);
    if (await this.#mirror.reached(last, CATCH_UP_MS * 2)) return;
    throw new ClusterTasksUnavailableError(
      `the cluster's task bucket is at revision ${last}, this hub's watch at ${this.#mirror.seen}`,
    );
  }

  /** (Re)starts the watch, from `revision` or with every key's current value. */
  async #startWatch(revision: number | undefined): Promise<void> {
    this.#watch?.stop();
    const watch = await this.#retrying("watch the bucket", () =>
      this.#kv.watch(revision === undefined ? {} : { resumeFromRevision: revision }),
    );
    this.#watch = watch;
    void (async () => {
      for await (const entry of watch as AsyncIterable<KvWatchEntry>) this.#mirror.watched(entry);
    })().catch((error: unknown) => {
      if (!this.#closed) this.#onError(error);
    });
  }

  #lastCheck = { last: 0, seen: 0 };

  /** A watch that brought nothing while the bucket moved on for a whole check is started again. */
  async #checkWatch(): Promise<void> {
    if (this.#closed) return;
    const status = await this.#kv.status();
    const last = status.streamInfo.state.last_seq;
    const seen = this.#mirror.seen;
    const stalled = last > seen && this.#lastCheck.seen === seen && this.#lastCheck.last > seen;
    this.#lastCheck = { last, seen };
    if (stalled && !this.#closed) await this.#startWatch(seen + 1);
  }

  /**
   * Removes expired tasks: this hub's own at once, others' after the grace (their hub may be
   * gone). One sweep at a time: a slow one is not overtaken by the next.
   */
  async #sweep(): Promise<void> {
    if (this.#sweeping) return;
    this.#sweeping = true;
    try {
      const now = Date.now();
      for (const task of [...this.#mirror.all()]) {
        if (this.#closed) return;
        const grace = task.hub === this.#options.self ? 0 : this.#limits.orphanGraceMs;
        if (task.expiresAt + grace <= now) await this.#remove(task.task.id, task.revision);
      }
    } finally {
      this.#sweeping = false;
    }
  }

  /**
   * Deletes task `id` if the bucket still holds revision `revision` of it — so that of all the
   * hubs trying, one removes it — and then its results.
   */
  async #remove(id: string, revision: number): Promise<void> {
    try {
      await this.#kv.delete(taskKey(id), { previousSeq: revision });
    } catch (error) {
      if (isConflict(error)) return; // removed (or replaced) by another hub
      throw error;
    }
    this.#expired++;
    const keys: string[] = [];
    for await (const key of await this.#kv.keys(resultKeys(id))) keys.push(key);
    await Promise.all(keys.map((key) => this.#dropResult(key)));
  }

  /** A result written while its task was being removed: dropped unless its task is back. */
  async #dropOrphan(key: string, revision: number): Promise<void> {
    const id = key.split(".")[1]!;
    const task = await this.#kv.get(taskKey(id));
    if (task !== null && task.operation === "PUT") return;
    await this.#kv.delete(key, { previousSeq: revision }).catch((error: unknown) => {
      if (!isConflict(error)) throw error;
    });
  }

  async #dropResult(key: string): Promise<void> {
    const entry = await this.#kv.get(key);
    if (entry === null || entry.operation !== "PUT") return;
    await this.#kv.delete(key, { previousSeq: entry.revision }).catch((error: unknown) => {
      if (!isConflict(error)) throw error;
    });
  }

  /**
   * Runs `operation`, again after a pause while NATS or JetStream cannot answer (a NATS node was
   * lost and JetStream elects new leaders), for up to `retryMs`; conflicts are not retried.
   */
  async #retrying<T>(what: string, operation: () => Promise<T>): Promise<T> {
    const until = Date.now() + this.#limits.retryMs;
    for (let attempt = 0; ; attempt++) {
      try {
        return await operation();
      } catch (error) {
        if (isConflict(error) || this.#closed) throw error;
        if (Date.now() >= until)
          throw new ClusterTasksUnavailableError(
            `cannot ${what} in the cluster's task bucket: ${(error as Error).message}`,
            { cause: error },
          );
        await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
      }
    }
  }
}

/**
 * Whether nats-server `version` checks an expected last subject sequence as part of the
 * replicated write (2.9.21 and later); before, two racing writes could both pass the check.
 */
export function serializesConditionalWrites(version: string): boolean {
  const [major = 0, minor = 0, patch = 0] = version
    .split(/[.-]/)
    .map((part) => Number.parseInt(part, 10) || 0);
  return major > 2 || (major === 2 && (minor > 9 || (minor === 9 && patch >= 21)));
}

/** A claim racing a result keeps being re-read at most this often. */
const MAX_RACES = 32;

function change(key: string, value: string, revision: number): BucketChange {
  return { key, value: new TextEncoder().encode(value), revision, operation: "PUT" };
}

/** JetStream's "wrong last sequence": the key changed since it was read (or exists, for a create). */
function isConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 10071 || code === 10164;
}

function conflictAsExists(error: unknown, id: string): unknown {
  return isConflict(error) ? new TaskExistsError(id) : error;
}

function previousStatus(entry: { key: string; value: Uint8Array }, broker: string): string | undefined {
  try {
    return decodeResultRecord(entry.key, entry.value, broker).status;
  } catch {
    return undefined; // an unreadable result is replaced
  }
}
