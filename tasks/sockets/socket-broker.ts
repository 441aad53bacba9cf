import { randomUUID } from "node:crypto";
import { classifyId, type HubId } from "../beam-id.js";
import {
  InvalidTaskError,
  SocketGoneError,
  TaskForbiddenError,
  TaskLimitError,
  TaskNotFoundError,
  UnreachableRecipientsError,
} from "../errors.js";
import { longPoll, type PollAnswer, type WaitCondition, type WaiterBudget } from "../long-poll.js";
import { checkTaskId } from "../messages.js";
import { joinEnds, type SocketEnd } from "./socket-ends.js";
import { WakeListeners } from "../wake-listeners.js";

/** A socket task as applications see it (Samply's `MsgSocketRequest` without its secret). */
export interface SocketTask {
  id: string;
  from: string;
  /** Exactly one recipient. */
  to: [string];
  /** Whole seconds left, as a digit string (like a task's ttl). */
  ttl: string;
  metadata: unknown;
}

/** Bounds of the sockets of a {@link SocketBroker}; each refusal is a 429. */
export interface SocketLimits {
  /** Sockets one application takes part in at once, waiting or joined, either side (default 100). */
  maxSocketsPerApp: number;
  /** Socket tasks nobody joined yet, on the whole hub (default 1,000). */
  maxPendingSockets: number;
  /**
   * Bytes buffered per direction of a socket that goes through a byte stream (default 64 KiB);
   * a slow reader holds the writer back. Two HTTP connections are joined socket to socket and
   * buffer at most their sockets' own buffers.
   */
  socketBufferBytes: number;
  /** How long a socket task waits for its recipient, in ms (default 60 s, Samply's fixed value). */
  socketTtlMs: number;
}

export const DEFAULT_SOCKET_LIMITS: SocketLimits = {
  maxSocketsPerApp: 100,
  maxPendingSockets: 1_000,
  socketBufferBytes: 64 * 1024,
  socketTtlMs: 60_000,
};

interface Pending {
  readonly task: Omit<SocketTask, "ttl">;
  readonly expiresAt: number;
  readonly end: SocketEnd;
  readonly timer: NodeJS.Timeout;
  readonly joined: (joining: Promise<void>) => void;
  readonly gone: (error: SocketGoneError) => void;
}

/** How long an ended socket task is remembered, so that a late join is told 410 rather than 404. */
const GONE_MEMORY_FACTOR = 10;

/**
 * Samply.Beam's sockets on one hub: an application asks for a socket to another one (a socket
 * task with a random id and a 60 s ttl), the recipient finds it with a long poll and joins it,
 * and from then on the two sides are one byte pipe. The task broker offers it as
 * `broker.sockets`; the REST face (`/v1/sockets`) and the task service (the TypeScript API) are
 * its two faces. Every method takes the authenticated application first.
 */
export class SocketBroker {
  readonly limits: SocketLimits;
  readonly #hub: HubId;
  readonly #waiters: WaiterBudget;
  readonly #pending = new Map<string, Pending>();
  /** Ended tasks nobody joined, by id: why they ended, until when this is remembered. */
  readonly #gone = new Map<string, { reason: string; until: number }>();
  readonly #inUse = new Map<string, number>();
  readonly #listeners = new WakeListeners();
  readonly #open = new Set<Promise<void>>();

  constructor(hub: HubId, limits: Partial<SocketLimits>, waiters: WaiterBudget) {
    this.#hub = hub;
    this.limits = { ...DEFAULT_SOCKET_LIMITS, ...limits };
    this.#waiters = waiters;
  }

  /** Socket tasks waiting for their recipient. */
  get pending(): number {
    return this.#pending.size;
  }

  /** Sockets joined and not yet closed. */
  get open(): number {
    return this.#open.size;
  }

  /** The sockets `app` takes part in now (waiting or joined). */
  inUse(app: string): number {
    return this.#inUse.get(app) ?? 0;
  }

  /**
   * Checks a socket request from `app` to `to` before anything is set up: a malformed or
   * foreign recipient is 400, one on another hub 424, a full hub or application 429.
   */
  checkRequest(app: string, to: string): void {
    const { kind, hub } = classifyId(to, this.#hub.broker);
    if (kind !== "app")
      throw new InvalidTaskError(`a socket goes to an application, "${to}" is a ${kind} id`);
    if (hub !== this.#hub.id) throw new UnreachableRecipientsError([hub]);
    if (this.#pending.size >= this.limits.maxPendingSockets)
      throw new TaskLimitError(`${this.limits.maxPendingSockets} sockets are waiting to be joined`);
    if (this.inUse(app) >= this.limits.maxSocketsPerApp)
      throw new TaskLimitError(`${app} takes part in ${this.limits.maxSocketsPerApp} sockets`);
  }

  /**
   * Creates a socket task from `app` to `to` whose sender's side is `end`, and resolves once
   * the recipient joined (the bytes flow from then on) — or rejects with `SocketGoneError`
   * when nobody joined within the ttl, and with the reason when `signal` aborts first (the
   * sender went away; the task is withdrawn).
   */
  request(app: string, to: string, metadata: unknown, end: SocketEnd, signal?: AbortSignal): Promise<string> {
    try {
      this.checkRequest(app, to);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
    const id = randomUUID();
    return new Promise<string>((resolve, reject) => {
      const onAbort = (): void => {
        if (this.#withdraw(id, "its sender went away")) reject(signal!.reason as Error);
      };
      const timer = setTimeout(() => {
        if (this.#withdraw(id, "nobody joined it in time"))
          reject(new SocketGoneError(`nobody joined socket ${id} within ${this.limits.socketTtlMs} ms`));
      }, this.limits.socketTtlMs);
      timer.unref();
      this.#pending.set(id, {
        task: { id, from: app, to: [to], metadata },
        expiresAt: Date.now() + this.limits.socketTtlMs,
        end,
        timer,
        joined: (joining) => {
          signal?.removeEventListener("abort", onAbort);
          this.#track(joining, [app, to]);
          resolve(id);
        },
        gone: reject,
      });
      this.#take(app);
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#wake(`app:${to}`);
    });
  }

  /**
   * The socket tasks waiting for `app`. Samply waits for one when neither `wait_count` nor
   * `wait_time` is given (`GET /v1/sockets` blocks until a socket comes): so does this, up to
   * the long-poll bound, and a client that goes away (`signal`) frees its place at once.
   */
  list(app: string, wait: WaitCondition, signal?: AbortSignal): Promise<PollAnswer<SocketTask>> {
    const condition = wait.count === undefined && wait.timeMs === undefined ? { count: 1 } : wait;
    return longPoll(
      this,
      [`app:${app}`],
      () => {
        const items = this.#addressedTo(app);
        return { items, counted: items.length };
      },
      condition,
      this.#waiters,
      signal,
    );
  }

  /**
   * Checks that `app` may join socket `id` now: a malformed id is 400, an unknown one 404, one
   * that expired or whose sender went away 410, and anyone but the recipient 403 (the sender's
   * side is its own request).
   */
  checkJoin(app: string, id: string): void {
    this.#joinable(app, id);
  }

  /** Joins socket `id` as `app` with `end`; the bytes flow at once. Same refusals as {@link checkJoin}. */
  join(app: string, id: string, end: SocketEnd): void {
    const pending = this.#joinable(app, id);
    if (this.inUse(app) >= this.limits.maxSocketsPerApp)
      throw new TaskLimitError(`${app} takes part in ${this.limits.maxSocketsPerApp} sockets`);
    this.#pending.delete(pending.task.id);
    clearTimeout(pending.timer);
    this.#take(app);
    this.#wake(`app:${app}`);
    pending.joined(joinEnds(pending.end, end, this.limits.socketBufferBytes));
  }

  /** Withdraws every waiting socket task (their senders get 410) and forgets ended ones. */
  close(): void {
    for (const id of [...this.#pending.keys()]) {
      const pending = this.#pending.get(id)!;
      if (this.#withdraw(id, "the hub is shutting down"))
        pending.gone(new SocketGoneError(`socket ${id} ended: the hub is shutting down`));
    }
    this.#gone.clear();
  }

  /** Calls `listener` after every change under one of `keys` (`app:<id>`: sockets for that app). */
  listen(keys: readonly string[], listener: () => void): () => void {
    return this.#listeners.listen(keys, listener);
  }

  #joinable(app: string, id: string): Pending {
    const taskId = checkTaskId(id);
    const pending = this.#pending.get(taskId);
    if (pending === undefined) {
      const gone = this.#gone.get(taskId);
      if (gone !== undefined && gone.until > Date.now())
        throw new SocketGoneError(`socket ${taskId} is gone: ${gone.reason}`);
      throw new TaskNotFoundError(taskId);
    }
    if (pending.task.to[0] !== app) throw new TaskForbiddenError("Not allowed to join this socket");
    return pending;
  }

  /** Removes a waiting task; false when it was not waiting any more (joined, or gone already). */
  #withdraw(id: string, reason: string): boolean {
    const pending = this.#pending.get(id);
    if (pending === undefined) return false;
    this.#pending.delete(id);
    clearTimeout(pending.timer);
    this.#release(pending.task.from);
    this.#remember(id, reason);
    this.#wake(`app:${pending.task.to[0]}`);
    return true;
  }

  #remember(id: string, reason: string): void {
    const now = Date.now();
    for (const [old, { until }] of this.#gone) {
      if (until > now && this.#gone.size < this.limits.maxPendingSockets) break;
      this.#gone.delete(old); // oldest first: Map keeps insertion order
    }
    this.#gone.set(id, { reason, until: now + GONE_MEMORY_FACTOR * this.limits.socketTtlMs });
  }

  #track(joining: Promise<void>, apps: readonly string[]): void {
    const done = joining
      .catch(() => undefined)
      .finally(() => {
        this.#open.delete(done);
        for (const app of apps) this.#release(app);
      });
    this.#open.add(done);
  }

  #take(app: string): void {
    this.#inUse.set(app, this.inUse(app) + 1);
  }

  #release(app: string): void {
    const left = this.inUse(app) - 1;
    if (left > 0) this.#inUse.set(app, left);
    else this.#inUse.delete(app);
  }

  #addressedTo(app: string): SocketTask[] {
    const now = Date.now();
    const tasks: SocketTask[] = [];
    for (const { task, expiresAt } of this.#pending.values()) {
      if (task.to[0] === app && expiresAt > now)
        tasks.push({ ...task, ttl: String(Math.floor((expiresAt - now) / 1000)) });
    }
    return tasks;
  }

  #wake(key: string): void {
    this.#listeners.wake(key);
  }
}
