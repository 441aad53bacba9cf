import { classifyId, parseHubId, type HubId } from "./beam-id.js";
import { AppIdentities } from "./app-identities.js";
import { AppKeys } from "./app-keys.js";
import {
  InvalidTaskError,
  TaskForbiddenError,
  TaskNotFoundError,
  TaskUnauthorizedError,
  UnreachableRecipientsError,
} from "./errors.js";
import { WaiterBudget, type PollAnswer, type WaitCondition } from "./long-poll.js";
import { checkTaskId, parseResult, parseTask, type Task, type TaskResult } from "./messages.js";
import { TaskStore, type StoredTask, type TaskStoreLimits } from "./task-store.js";
import { TaskLog } from "./task-log.js";
import type { TaskFederation } from "./task-federation.js";
import type { ResultEvent, TaskQuery } from "./task-query.js";
import { federatedResultEvents } from "./federated-result-events.js";
import { pollResults, pollTask, pollTasks, resultsFor, type TaskPollContext } from "./task-polls.js";
import { DEFAULT_SOCKET_LIMITS, SocketBroker, type SocketLimits } from "./sockets/socket-broker.js";

/** Bounds of a {@link TaskBroker}; each refusal is a clear 4xx. */
export interface TaskBrokerLimits extends TaskStoreLimits, SocketLimits {
  /** Requests waiting at once (long polls and event streams; default 10,000). */
  maxWaiters: number;
  /** Bytes of one request body (default 10 MiB; Samply's README figure). */
  maxBodyBytes: number;
}

export const DEFAULT_BROKER_LIMITS: TaskBrokerLimits = {
  maxTasksPerApp: 10_000,
  maxTasks: 100_000,
  maxWaiters: 10_000,
  maxBodyBytes: 10 * 1024 * 1024,
  ...DEFAULT_SOCKET_LIMITS,
};

/** Options of {@link TaskBroker.open}. */
export interface TaskBrokerOptions {
  /** This hub's id in Samply's terms, e.g. `proxy1.broker`. */
  id: string;
  /** Application keys by name: `{app1: "secret"}` makes `app1.<id>`. */
  apiKeys?: Readonly<Record<string, string>>;
  /**
   * Identities that act as an application without its key, by application name:
   * `{app1: ["unix:alice", "mtls:worker-1"]}` (see {@link AppIdentities}). For hub sessions
   * only (the TypeScript API, the CLI); the REST face takes keys.
   */
  identities?: Readonly<Record<string, readonly string[]>>;
  /** An environment to read `APP_<name>_KEY` variables from (the CLI passes `process.env`). */
  env?: Readonly<Record<string, string | undefined>>;
  /** Keep tasks and results in this kv log file, so that they survive a restart. */
  file?: string;
  limits?: Partial<TaskBrokerLimits>;
  /** How often expired tasks are removed, in ms (default 1000). They are invisible at once anyway. */
  sweepInterval?: number;
  /**
   * Which hubs besides this one may be addressed (a recipient elsewhere is 424). A federation's
   * broker stores the tasks of all its sites: `() => true` (sites check certificates before sealing).
   */
  reachable?: (hub: string) => boolean;
}

export type { ResultEvent, TaskQuery } from "./task-query.js";

/**
 * Samply.Beam's task pattern on one hub: applications post a task to N workers, each worker
 * posts at most one result (with a status), and everyone can wait for what they expect with a
 * long poll. Every method takes the *authenticated* application id first: who may see and
 * answer what follows from it, exactly as on Samply's REST face (see `tasks/rest/`).
 */
export class TaskBroker {
  readonly hub: HubId;
  readonly keys: AppKeys;
  readonly identities: AppIdentities;
  readonly limits: TaskBrokerLimits;
  /** Samply's sockets (`/v1/sockets`): byte pipes between two applications, paired here. */
  readonly sockets: SocketBroker;
  readonly #store: TaskStore;
  readonly #waiters: WaiterBudget;
  readonly #polls: TaskPollContext<StoredTask>;
  readonly #log: TaskLog | undefined;
  readonly #sweeper: NodeJS.Timeout;
  readonly #reachable: (hub: string) => boolean;
  #federation: TaskFederation | undefined;

  private constructor(options: TaskBrokerOptions, store: TaskStore, log: TaskLog | undefined) {
    this.hub = parseHubId(options.id);
    this.limits = { ...DEFAULT_BROKER_LIMITS, ...options.limits };
    this.keys = new AppKeys(options.id, {
      ...(options.env === undefined ? {} : AppKeys.fromEnvironment(options.env)),
      ...options.apiKeys,
    });
    this.identities = new AppIdentities(options.id, options.identities);
    this.#store = store;
    this.#log = log;
    this.#waiters = new WaiterBudget(this.limits.maxWaiters);
    this.sockets = new SocketBroker(this.hub, this.limits, this.#waiters);
    this.#polls = { store, waiters: this.#waiters, toTask: (stored) => this.#toTask(stored) };
    this.#sweeper = setInterval(() => this.#sweep(), options.sweepInterval ?? 1000).unref();
    this.#reachable = options.reachable ?? (() => false);
  }

  /**
   * From now on, keeps tasks and results where `federation` keeps them (a federation's broker)
   * instead of on this hub: this hub still checks keys and who may send as whom, and its
   * sockets stay local. Tasks this hub held before are no longer served (they expire here): call
   * it before the hub takes requests (`serve` answers 503 until the site has joined).
   */
  federate(federation: TaskFederation): void {
    this.#federation = federation;
  }

  /** Whether tasks are kept by a federation's broker (see {@link federate}). */
  get federated(): boolean {
    return this.#federation !== undefined;
  }

  /** Opens a broker; with `file`, its tasks are read back from the log first. */
  static async open(options: TaskBrokerOptions): Promise<TaskBroker> {
    parseHubId(options.id);
    const store = new TaskStore(options.limits);
    const log = options.file === undefined ? undefined : await TaskLog.open(options.file, store);
    return new TaskBroker(options, store, log);
  }

  /**
   * Tasks held right now (until they expire): this hub's, or — when it {@link federate}s with a
   * store that keeps a copy here, as a cluster's hubs do — that store's.
   */
  get taskCount(): number {
    return this.#federation?.size ?? this.#store.size;
  }

  /** Requests waiting right now (long polls and event streams, here and in the federation's store). */
  get waiting(): number {
    return this.#waiters.waiting + (this.#federation?.waiting ?? 0);
  }

  /** Posts a task from `app`. Resolves once it is stored (and logged, with a file). */
  async post(app: string, body: unknown): Promise<Task> {
    const submission = parseTask(body, this.hub.broker);
    this.#mustBe(app, submission.from);
    if (this.#federation !== undefined) {
      const { ttlMs, ...rest } = submission;
      return this.#federation.post(app, { ...rest, ttl: `${ttlMs}ms` });
    }
    this.#mustReach(submission.to);
    const stored = this.#store.post(submission);
    await this.#log?.posted(stored);
    return this.#toTask(stored);
  }

  /** The tasks `query` selects, with Samply's visibility rules, optionally waiting for some. */
  async tasks(
    app: string,
    query: TaskQuery,
    wait: WaitCondition = {},
    signal?: AbortSignal,
  ): Promise<PollAnswer<Task>> {
    if (query.from === undefined && query.to === undefined && query.todo !== true) {
      throw new InvalidTaskError('Please supply either "from" or "to" query parameter.');
    }
    for (const id of [query.from, query.to]) {
      if (id !== undefined && id !== app) throw new TaskForbiddenError(`${app} may only list its own tasks`);
    }
    if (this.#federation !== undefined) return this.#federation.tasks(app, query, wait, signal);
    return pollTasks(this.#polls, app, query, wait, signal);
  }

  /**
   * One task, if `app` sent it or is one of its workers. Unknown and invisible look the same
   * (404). A `wait` may only ask for the task to appear: count 1 and a time; without a time
   * the answer is immediate (Samply blocks an hour here: not copied).
   */
  async task(app: string, id: string, wait: WaitCondition = {}, signal?: AbortSignal): Promise<Task> {
    const taskId = checkTaskId(id);
    if (wait.count !== undefined && wait.count !== 1)
      throw new InvalidTaskError("wait_count must be 1 for one task");
    if (this.#federation !== undefined) return this.#federation.task(app, taskId, wait, signal);
    return pollTask(this.#polls, app, taskId, wait, signal);
  }

  /**
   * The results of a task `app` sent, addressed to `app`; `claimed` ones are listed but do not
   * count towards `wait.count` (a claim is not an answer).
   */
  async results(
    app: string,
    id: string,
    wait: WaitCondition = {},
    signal?: AbortSignal,
  ): Promise<PollAnswer<TaskResult>> {
    if (this.#federation !== undefined) return this.#federation.results(app, checkTaskId(id), wait, signal);
    return pollResults(this.#polls, app, this.#ownTask(app, id), wait, signal);
  }

  /**
   * The results of a task as events: those present, then each new or updated one, until
   * `wait.count` answers were sent (claims do not count), the time is over (`wait_expired`
   * null), the task expires (`wait_expired` "Task expired") or `signal` aborts. With no wait,
   * only those present.
   */
  async *resultEvents(
    app: string,
    id: string,
    wait: WaitCondition = {},
    signal?: AbortSignal,
  ): AsyncGenerator<ResultEvent> {
    if (this.#federation !== undefined) {
      yield* federatedResultEvents(this.#federation, app, checkTaskId(id), wait, this.#waiters, signal);
      return;
    }
    const stored = this.#ownTask(app, id);
    const leave = this.#waiters.enter();
    const sent = new Map<string, TaskResult>();
    let counted = 0;
    let wake: (() => void) | undefined;
    const stop = this.#store.listen([`task:${stored.task.id}`], () => wake?.());
    const onAbort = (): void => wake?.();
    signal?.addEventListener("abort", onAbort);
    const deadline =
      Date.now() + Math.min(wait.timeMs ?? (wait.count === undefined ? 0 : 3_600_000), 3_600_000);
    try {
      for (;;) {
        for (const result of resultsFor(stored, app).items) {
          if (sent.get(result.from) === result) continue;
          sent.set(result.from, result);
          yield { event: "new_result", data: result };
          if (result.status !== "claimed") counted++;
          if (wait.count !== undefined && counted >= wait.count) return;
        }
        if (this.#store.get(stored.task.id) !== stored) {
          yield { event: "wait_expired", data: "Task expired" };
          return;
        }
        const left = deadline - Date.now();
        if (left <= 0 || signal?.aborted === true) {
          if (wait.timeMs !== undefined) yield { event: "wait_expired", data: null };
          return;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => ((wake = undefined), resolve()), left);
          wake = () => {
            clearTimeout(timer);
            wake = undefined;
            resolve();
          };
        });
      }
    } finally {
      stop();
      signal?.removeEventListener("abort", onAbort);
      leave();
    }
  }

  /**
   * Stores `worker`'s result for task `id` (the REST path's two parts; they must agree with the
   * body). Returns `created` for a worker's first result, `updated` after.
   */
  async putResult(app: string, id: string, worker: string, body: unknown): Promise<"created" | "updated"> {
    const taskId = checkTaskId(id);
    const result = parseResult(body, this.hub.broker);
    if (result.task !== taskId)
      throw new InvalidTaskError("Task IDs supplied in path and payload do not match.");
    if (result.from !== worker)
      throw new InvalidTaskError("AppID supplied in URL and signed message do not match.");
    this.#mustBe(app, result.from);
    if (this.#federation !== undefined) return this.#federation.putResult(app, taskId, result);
    this.#mustReach(result.to);
    const stored = this.#store.get(taskId);
    if (stored === undefined) throw new TaskNotFoundError(taskId);
    if (!stored.task.to.includes(worker)) throw new TaskForbiddenError("Not allowed to access this task");
    const outcome = this.#store.putResult(stored, result);
    if (outcome === "kept") return "updated";
    await this.#log?.resulted(stored, result);
    return outcome;
  }

  /**
   * Stops sweeping and closes the log; socket tasks nobody joined end (410). Waiting requests
   * end at their own deadlines, joined sockets when their sides close them.
   */
  async close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.sockets.close();
    await this.#log?.close();
  }

  #sweep(): void {
    const removed = this.#store.sweep();
    if (removed.length > 0) void this.#log?.removed(removed).catch(() => {});
  }

  #ownTask(app: string, id: string): StoredTask {
    const stored = this.#store.get(checkTaskId(id));
    if (stored === undefined) throw new TaskNotFoundError(id);
    if (stored.task.from !== app) throw new TaskForbiddenError("");
    return stored;
  }

  #mustBe(app: string, from: string): void {
    if (from !== app)
      throw new TaskUnauthorizedError("You are not authorized to send on behalf of this app.");
  }

  /** Every recipient must live on this hub or one `reachable` admits: others are 424 with their hubs. */
  #mustReach(to: readonly string[]): void {
    const unreachable = new Set<string>();
    for (const id of to) {
      const { hub } = classifyId(id, this.hub.broker);
      if (hub !== this.hub.id && !this.#reachable(hub)) unreachable.add(hub);
    }
    if (unreachable.size > 0) throw new UnreachableRecipientsError([...unreachable]);
  }

  /** A stored task as applications see it: its ttl is the whole seconds left, as a digit string. */
  #toTask(stored: StoredTask): Task {
    return { ...stored.task, ttl: String(Math.floor(this.#store.remaining(stored) / 1000)) };
  }
}
