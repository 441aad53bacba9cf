import type { ByteStream } from "../model/byte-stream.js";
import { ServiceError } from "../model/errors.js";
import type { HubClient } from "../hub/types.js";
import type { TaskError } from "./errors.js";
import {
  InvalidTaskError,
  SocketGoneError,
  TaskExistsError,
  TaskForbiddenError,
  TaskLimitError,
  TaskNotFoundError,
  TaskUnauthorizedError,
  UnreachableRecipientsError,
  UpgradeRequiredError,
} from "./errors.js";
import { MAX_WAIT_MS, type PollAnswer, type WaitCondition } from "./long-poll.js";
import type { FailureStrategy, Task, TaskResult, WorkStatus } from "./messages.js";
import type { SocketTask } from "./sockets/socket-broker.js";
import type { TaskQuery } from "./task-broker.js";
import { TASK_SERVICE, type SocketReply, type TaskServiceRequest } from "./task-service.js";

/** What {@link TaskClient.post} needs; the rest has defaults. */
export interface NewTask {
  id?: string;
  to: string[];
  body?: string;
  /** A duration (`"30s"`, `"5m"`; a bare number is seconds). Default `"60s"`. */
  ttl?: string;
  failure_strategy?: FailureStrategy;
  metadata?: unknown;
}

/** A worker's answer; `from`, `task` and, by default, `to` (the task's sender) are filled in. */
export interface NewResult {
  status: WorkStatus;
  body?: string;
  metadata?: unknown;
  to?: string[];
}

/** Options of {@link TaskClient.todo}. */
export interface TodoOptions {
  /** How long each long poll waits before asking again (default 30 s). */
  pollTime?: number;
  signal?: AbortSignal;
}

/** Options of {@link TaskClient.socket}. */
export interface SocketOptions {
  /** Any JSON value the recipient sees in the socket task (Samply's `metadata` header). */
  metadata?: unknown;
  /** Gives up waiting for the recipient: the socket task is withdrawn. */
  signal?: AbortSignal;
}

/** Options of {@link TaskClient.sockets}. */
export interface IncomingSocketsOptions {
  /** How long each long poll waits before asking again (default 30 s). */
  pollTime?: number;
  signal?: AbortSignal;
}

/** How an application proves who it is: its key, or (no key) the session's own identity. */
export interface TaskCredentials {
  app: string;
  /**
   * The application's key. Leave it out when the hub maps this session's identity (a Unix
   * user, a client certificate, a token) to the application (`apps.<name>.identities`).
   */
  key?: string;
}

/** A request as this client writes it, before it adds its credentials (distributed over the union). */
type WithoutCredentials<T> = T extends unknown ? Omit<T, "app" | "key"> : never;

/** Task errors by code, to rebuild them on this side of a transport. */
const ERRORS: Record<string, (error: ServiceError) => TaskError> = {
  EINVALID_TASK: (e) => new InvalidTaskError(e.message, { cause: e }),
  EUNAUTHORIZED: (e) => new TaskUnauthorizedError(e.message),
  EFORBIDDEN: (e) => new TaskForbiddenError(e.message),
  ETASK_NOT_FOUND: (e) => Object.assign(new TaskNotFoundError(""), { message: e.message }),
  ETASK_EXISTS: (e) => Object.assign(new TaskExistsError(""), { message: e.message }),
  EUNREACHABLE: (e) => new UnreachableRecipientsError(((e.details as { hubs?: string[] }) ?? {}).hubs ?? []),
  ELIMIT: (e) => new TaskLimitError(e.message),
  ESOCKET_GONE: (e) => new SocketGoneError(e.message),
  EUPGRADE_REQUIRED: (e) => new UpgradeRequiredError(e.message),
};

/**
 * @internal A task error that crossed a session (a `ServiceError` with a task code) as its own
 * class again, so that it keeps its REST status; anything else as it is.
 */
export function reviveTaskError(error: unknown): unknown {
  const rebuild = error instanceof ServiceError ? ERRORS[error.code] : undefined;
  return rebuild === undefined ? error : rebuild(error as ServiceError);
}

/**
 * Tasks from TypeScript, over any beamhub session (`connect(...)`, a hub's own session, ...):
 * the same operations and rules as Samply.Beam's REST face, as one application.
 *
 * ```ts
 * const app2 = new TaskClient(session, { app: "app2.proxy1.broker", key: "secret" });
 * for await (const task of app2.todo()) {
 *   await app2.claim(task);
 *   await app2.answer(task, { status: "succeeded", body: "42" });
 * }
 * ```
 */
export class TaskClient {
  readonly #hub: HubClient;
  readonly #credentials: TaskCredentials;
  readonly #service: string;

  constructor(hub: HubClient, credentials: TaskCredentials, options: { service?: string } = {}) {
    this.#hub = hub;
    this.#credentials = credentials;
    this.#service = options.service ?? TASK_SERVICE;
  }

  /** This application's id. */
  get app(): string {
    return this.#credentials.app;
  }

  /** Posts a task from this application; resolves to it as stored (its id chosen here when not given). */
  post(task: NewTask): Promise<Task> {
    return this.#call({
      op: "post",
      task: {
        id: task.id ?? crypto.randomUUID(),
        from: this.app,
        to: task.to,
        body: task.body ?? "",
        ttl: task.ttl ?? "60s",
        failure_strategy: task.failure_strategy ?? "discard",
        metadata: task.metadata ?? null,
      },
    });
  }

  /** Tasks by query (`GET /v1/tasks`), optionally waiting for `wait.count` of them. */
  tasks(query: TaskQuery, wait?: WaitCondition): Promise<PollAnswer<Task>> {
    return this.#call({ op: "tasks", query, ...(wait === undefined ? {} : { wait }) });
  }

  /** One task this application sent or works on. */
  task(id: string, wait?: WaitCondition): Promise<Task> {
    return this.#call({ op: "task", id, ...(wait === undefined ? {} : { wait }) });
  }

  /** Results addressed to this application for a task it sent; claims do not count towards `wait.count`. */
  results(id: string, wait?: WaitCondition): Promise<PollAnswer<TaskResult>> {
    return this.#call({ op: "results", id, ...(wait === undefined ? {} : { wait }) });
  }

  /** Posts this worker's result for `task` (created the first time, replaced after). */
  answer(task: Task, result: NewResult): Promise<"created" | "updated"> {
    return this.#call({
      op: "put",
      id: task.id,
      result: {
        from: this.app,
        to: result.to ?? [task.from],
        task: task.id,
        status: result.status,
        ...(result.body === undefined ? {} : { body: result.body }),
        metadata: result.metadata ?? null,
      },
    });
  }

  /** Tells the sender this worker is on `task` (it leaves the worker's to-do list). */
  claim(task: Task): Promise<"created" | "updated"> {
    return this.answer(task, { status: "claimed" });
  }

  /**
   * The tasks this application has to do, as they come: each one once (until it leaves the
   * to-do list, a `tempfailed` one again after the next poll shows it), by long polls.
   */
  async *todo(options: TodoOptions = {}): AsyncGenerator<Task> {
    const seen = new Set<string>();
    while (options.signal?.aborted !== true) {
      const answer = await this.tasks(
        { todo: true },
        { count: seen.size + 1, timeMs: options.pollTime ?? 30_000 },
      );
      const current = new Set(answer.items.map((task) => task.id));
      for (const id of seen) if (!current.has(id)) seen.delete(id);
      for (const task of answer.items) {
        if (seen.has(task.id)) continue;
        seen.add(task.id);
        yield task;
      }
    }
  }

  /**
   * Asks application `to` for a socket (Samply's `POST /v1/sockets/<app>`) and resolves, once
   * the recipient joined, to this side's end: a byte stream both ways (`Duplex.fromWeb(stream)`
   * makes a Node duplex of it). Rejects with `SocketGoneError` when nobody joined within the
   * hub's socket ttl (60 s by default).
   */
  async socket(to: string, options: SocketOptions = {}): Promise<ByteStream> {
    const reply = await this.#call<SocketReply>(
      { op: "socket", to, metadata: options.metadata ?? null },
      { timeout: MAX_WAIT_MS, ...(options.signal === undefined ? {} : { signal: options.signal }) },
    );
    return reply.stream;
  }

  /**
   * The socket tasks waiting for this application (`GET /v1/sockets`), optionally waiting for
   * `wait.count` of them.
   */
  socketTasks(wait?: WaitCondition): Promise<PollAnswer<SocketTask>> {
    return this.#call({ op: "sockets", wait: wait ?? { timeMs: 0 } });
  }

  /** The sockets other applications ask this one for, as they come (each once), by long polls. */
  async *sockets(options: IncomingSocketsOptions = {}): AsyncGenerator<SocketTask> {
    const seen = new Set<string>();
    while (options.signal?.aborted !== true) {
      const answer = await this.socketTasks({ count: seen.size + 1, timeMs: options.pollTime ?? 30_000 });
      const current = new Set(answer.items.map((task) => task.id));
      for (const id of seen) if (!current.has(id)) seen.delete(id);
      for (const task of answer.items) {
        if (seen.has(task.id)) continue;
        seen.add(task.id);
        yield task;
      }
    }
  }

  /** Joins socket `id` (Samply's `GET /v1/sockets/<id>`); resolves to this side's end. */
  async accept(id: string | SocketTask): Promise<ByteStream> {
    const reply = await this.#call<SocketReply>({ op: "accept", id: typeof id === "string" ? id : id.id });
    return reply.stream;
  }

  async #call<T>(
    request: WithoutCredentials<TaskServiceRequest>,
    options: { timeout?: number; signal?: AbortSignal } = {},
  ): Promise<T> {
    const waited = request.wait?.timeMs ?? (request.wait?.count === undefined ? 0 : MAX_WAIT_MS);
    try {
      return await this.#hub.call<T>(
        this.#service,
        { ...request, ...this.#credentials },
        {
          timeout: (options.timeout ?? waited) + 30_000,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
      );
    } catch (error) {
      throw reviveTaskError(error);
    }
  }
}
