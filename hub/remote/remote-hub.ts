import { context as otelContext, ROOT_CONTEXT } from "@opentelemetry/api";
import { Channel, type ChannelRequestOptions } from "../../model/channel.js";
import { ByteStream } from "../../model/byte-stream.js";
import { CallAbortedError, ClosedError, InvalidArgumentError } from "../../model/errors.js";
import { broadcastWith } from "../broadcast.js";
import { validateLabels, validateName, type Labels } from "../names.js";
import { verifyChannelName, verifySubscribeOptions, PUBSUB_DEFAULTS } from "../../pubsub/index.js";
import type {
  Broadcast,
  HubPublishOptions,
  CallOptions,
  Handler,
  HubClient,
  ChannelInfo,
  HubSubscribeOptions,
  Published,
  Registration,
  RegisterOptions,
  ServiceFilter,
  ServiceInfo,
  WatchOptions,
} from "../types.js";
import type { WireConnection } from "../../wire/connection.js";
import type { HubStats, InstanceInfo } from "../stats/hub-stats.js";
import type { SessionInfo } from "../stats/session-info.js";
import type { CallRequest, HandlerRequest, HubRequest } from "./hub-protocol.js";
import { KEEP_CALL_CONTEXT, ServedCallContext } from "./served-call-context.js";
import { inCallSpan, tracingEnabled } from "../tracing/spans.js";
import { extractTraceContext, injectTraceContext } from "../tracing/trace-context.js";
import { ReconnectGaveUpError, ReconnectTimeoutError, RequestInterruptedError } from "./reconnect-errors.js";
import {
  backoffDelay,
  verifyReconnectOptions,
  type ReconnectOptions,
  type ReconnectPolicy,
} from "./reconnect-options.js";
import {
  DisconnectedEvent,
  GaveUpEvent,
  ReconnectedEvent,
  type ReRegistration,
  type ReRegistrationFailure,
  RemoteHubEventTarget,
} from "./remote-hub-events.js";
import { RemoteSubscription } from "./remote-subscription.js";
import { RemoteWatch, type HubRequester } from "./remote-watch.js";

/** What the client re-opens on every new connection: watches and subscriptions. */
type Resumable = Pick<RemoteWatch, "open" | "end" | "done">;

const NO_OPTIONS: CallOptions = Object.freeze({});

type CallWireOptions = NonNullable<CallRequest["options"]>;

/** Extra time a client waits beyond a call's own timeout before giving up on the hub. */
const TIMEOUT_GRACE_MS = 1000;

/**
 * How long a request without a timeout of its own (list, lookup, register, a call without
 * `timeout`) waits for a reconnection: the hub's default call timeout.
 */
export const DEFAULT_RECONNECT_WAIT = 30_000;

/** Options of a `RemoteHub` (transports pass them; applications use `connectUnix`/`connectHttps`). */
export interface RemoteHubOptions {
  /**
   * Opens a new connection to the same hub, handshake done. Without it the client cannot
   * reconnect (as if `reconnect: false`).
   */
  dial?: () => Promise<WireConnection>;
  /** True for dial errors that retrying cannot fix (refused credentials, an untrusted certificate). */
  isPermanent?: (error: unknown) => boolean;
  /** Reconnection after a lost connection: on by default; `false` turns it off. */
  reconnect?: ReconnectOptions | boolean;
}

/** Where the client stands: connected, reconnecting after a loss, or closed for good. */
export type RemoteHubState = "connected" | "reconnecting" | "closed";

/** One `register()` of this client, kept to register it again after a reconnection. */
interface LiveRegistration {
  readonly name: string;
  readonly labels: Labels;
  readonly handler: Handler<never, unknown>;
  info: ServiceInfo;
  /** This end of the handler channel on the current connection. */
  channel: Channel | undefined;
  removed: boolean;
}

// The DOM listener types, as this environment's EventTarget declares them (Node's and browsers').

interface Waiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A hub across a connection, with the same API as one in this process: the compliance suite
 * runs exactly the same tests against it. Every operation is a request on the root channel;
 * handlers and watches get their own channels.
 *
 * **Reconnection** (on by default; `reconnect: false` turns it off). When the connection is
 * lost, the client dispatches `disconnected` and dials again with exponential backoff and full
 * jitter. Once connected it registers its services again (same names, labels and handlers; new
 * instance ids, reported in `reconnected` and by `registration.info`), re-opens its watches
 * (their iterators go on; see `RemoteWatchEvent.resync`) and dispatches `reconnected`. When it
 * gives up it dispatches `gave-up` and closes. Requests in flight when the connection was lost
 * fail with `RequestInterruptedError` and are never sent again, since a call may have had side
 * effects. Requests made while reconnecting wait for the reconnection up to their own timeout
 * (`ReconnectTimeoutError`; without a timeout, {@link DEFAULT_RECONNECT_WAIT}).
 */
export class RemoteHub extends RemoteHubEventTarget implements HubClient {
  #connection!: WireConnection;
  #root!: Channel;
  #state: RemoteHubState = "connected";
  readonly #policy: ReconnectPolicy;
  readonly #dial: (() => Promise<WireConnection>) | undefined;
  readonly #isPermanent: (error: unknown) => boolean;
  readonly #registrations = new Set<LiveRegistration>();
  readonly #watches = new Set<Resumable>();
  readonly #waiters = new Set<Waiter>();
  /** Why the client closed, when it was not `close()`: it gave up, or lost the hub without reconnecting. */
  #failure: Error | undefined;
  #closing = false;
  #pause: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  #resolveClosed!: (reason: Error | undefined) => void;
  /**
   * Resolves once the client is closed for good: by `close()` (with `undefined`), after giving
   * up (`ReconnectGaveUpError`), or on losing the hub with reconnection off (the loss's reason).
   */
  readonly closed: Promise<Error | undefined>;

  constructor(connection: WireConnection, options: RemoteHubOptions = {}) {
    super();
    const policy = verifyReconnectOptions(options.reconnect);
    this.#dial = options.dial;
    this.#policy = options.dial === undefined ? false : policy;
    this.#isPermanent = options.isPermanent ?? (() => false);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#use(connection);
    this.#watchConnection(connection);
  }

  /**
   * @internal The current connection. After a reconnection it is a new one; its `closed`
   * promise tells when *this* connection went, not the client (see {@link closed} and the
   * events). Not part of the API: the session below a client is the package's own.
   */
  get connection(): WireConnection {
    return this.#connection;
  }

  /** `"connected"`, `"reconnecting"` or `"closed"`. */
  get state(): RemoteHubState {
    return this.#state;
  }

  // ---- events -------------------------------------------------------------------------------

  // ---- requests -----------------------------------------------------------------------------

  /**
   * Sends `request` now if connected; else waits for the reconnection (up to `wait` ms).
   * A request the lost connection took with it fails with `RequestInterruptedError`.
   */
  #request<T>(
    request: HubRequest,
    options?: ChannelRequestOptions,
    wait = DEFAULT_RECONNECT_WAIT,
  ): Promise<T> {
    const connection = this.#connection;
    if (this.#state !== "connected" || connection.isClosed) return this.#later<T>(request, options, wait);
    const plain = this.#plainOptions;
    return this.#root.request<T>(
      request,
      options === undefined ? plain : { ...options, failure: plain.failure },
    );
  }

  /**
   * The options of a request without options of its own on the current connection: its failure
   * is `#interrupted`'s (made once per connection, not a `.catch` per request).
   */
  #plainOptions!: ChannelRequestOptions;

  /** Makes `connection` the one requests go to. */
  #use(connection: WireConnection): void {
    this.#connection = connection;
    this.#root = connection.root;
    this.#plainOptions = Object.freeze({
      failure: (error: unknown, request: unknown) =>
        this.#interrupted(connection, request as HubRequest, error),
    });
  }

  /** What a request that failed on `connection` rejects with. */
  #interrupted(connection: WireConnection, request: HubRequest, error: unknown): unknown {
    if (!connection.isClosed || this.#closing || !(error instanceof ClosedError)) return error;
    return new RequestInterruptedError(describe(request), error.cause ?? error);
  }

  async #later<T>(request: HubRequest, options: ChannelRequestOptions | undefined, wait: number): Promise<T> {
    if (this.#state === "closed") {
      if (this.#failure instanceof ReconnectGaveUpError) throw this.#failure;
      // Closed by `close()`, or lost without reconnection: the closed root channel says why.
      return this.#root.request<T>(request, options);
    }
    const started = Date.now();
    await this.#waitForConnection(request, wait, options);
    if (request.op === "call" && options?.timeout !== undefined && options.timeout > 0) {
      // The call's deadline stands: what it spent waiting comes off its timeout.
      const left = Math.max(1, request.options!.timeout! - (Date.now() - started));
      request = { ...request, options: { ...request.options, timeout: left } };
      options = { ...options, timeout: left + TIMEOUT_GRACE_MS };
    }
    // Lost again before it could be sent: it waits again, for what is left of its wait.
    return this.#request<T>(request, options, Math.max(1, wait - (Date.now() - started)));
  }

  /** Resolves when connected again; rejects on timeout, abort, give-up or close. */
  #waitForConnection(request: HubRequest, wait: number, options?: ChannelRequestOptions): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        this.#waiters.delete(waiter);
        if (timer !== undefined) clearTimeout(timer);
        options?.signal?.removeEventListener("abort", onAbort);
      };
      const waiter: Waiter = {
        resolve: () => {
          done();
          resolve();
        },
        reject: (error) => {
          done();
          reject(error);
        },
      };
      const onAbort = (): void => waiter.reject(aborted(request, options?.signal?.reason));
      if (options?.signal?.aborted) return onAbort();
      options?.signal?.addEventListener("abort", onAbort, { once: true });
      options?.cancelWith?.onCancel((reason) => waiter.reject(aborted(request, reason)));
      if (wait !== Infinity) {
        timer = setTimeout(() => waiter.reject(new ReconnectTimeoutError(describe(request), wait)), wait);
      }
      this.#waiters.add(waiter);
    });
  }

  async register<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options: RegisterOptions = {},
  ): Promise<Registration> {
    validateName(name);
    const live: LiveRegistration = {
      name,
      labels: validateLabels(options.labels) ?? {},
      handler: handler as Handler<never, unknown>,
      info: undefined as unknown as ServiceInfo,
      channel: undefined,
      removed: false,
    };
    await this.#registerOn(live, (request) => this.#request(request));
    this.#registrations.add(live);
    const unregister = async (): Promise<void> => {
      if (live.removed) return;
      live.removed = true;
      this.#registrations.delete(live);
      const channel = live.channel;
      // While disconnected there is nothing to undo: the registration went with the session.
      if (channel !== undefined && !channel.isClosed && this.#state === "connected") {
        await this.#request({ op: "unregister", id: live.info.id }).catch(() => undefined);
      }
      channel?.close();
    };
    return {
      get info() {
        return live.info;
      },
      unregister,
      [Symbol.asyncDispose]: unregister,
    };
  }

  /** Registers `live` through `send`, with a fresh handler channel. */
  async #registerOn(live: LiveRegistration, send: HubRequester): Promise<void> {
    const [mine, theirs] = Channel.pair();
    // A call's `service` and `caller` are decoded only if the handler reads them.
    theirs.keepOnWire = KEEP_CALL_CONTEXT;
    const handler = live.handler as Handler;
    mine.handle((request, context) => {
      const message = request as HandlerRequest;
      if (!tracingEnabled()) return handler(message.data, new ServedCallContext(message, context));
      // The serve span continues the trace the hub sent, or starts one: never the context that
      // happened to be active when this connection was made.
      const served = new ServedCallContext(message, context);
      const { service, caller } = served;
      const parent = extractTraceContext(message) ?? ROOT_CONTEXT;
      const attributes = { "beamhub.instance": service?.id, "beamhub.caller.session": caller?.sessionId };
      return inCallSpan(
        "serve",
        service?.name ?? live.name,
        parent,
        (traceContext) => handler(message.data, served.tracedIn(traceContext)),
        attributes,
      );
    });
    try {
      live.info = await send<ServiceInfo>({
        op: "register",
        name: live.name,
        labels: live.labels,
        handler: theirs,
      });
    } catch (error) {
      mine.close();
      throw error;
    }
    live.channel?.close();
    live.channel = mine;
  }

  call<Reply = unknown>(name: string, data?: unknown, options: CallOptions = NO_OPTIONS): Promise<Reply> {
    if (!tracingEnabled()) return this.#call<Reply>({ op: "call", name, data }, options);
    // The client span: its context travels in the request, so the hub's span is its child.
    return inCallSpan("call", name, otelContext.active(), (traceContext) => {
      const request: CallRequest = { op: "call", name, data };
      injectTraceContext(traceContext, request);
      return this.#call<Reply>(request, options);
    });
  }

  #call<Reply>(request: CallRequest, options: CallOptions): Promise<Reply> {
    if (options === NO_OPTIONS) return this.#request<Reply>(request);
    const { timeout, labels, instance, waitForService, signal, cancelWith } = options;
    // Only the options that are set travel: every call pays for what it encodes.
    const wire: CallWireOptions = {};
    if (timeout !== undefined) wire.timeout = timeout;
    if (labels !== undefined) wire.labels = labels;
    if (instance !== undefined) wire.instance = instance;
    if (waitForService !== undefined) wire.waitForService = waitForService;
    request.options = wire;
    return this.#request<Reply>(
      request,
      {
        signal,
        cancelWith,
        timeout: timeout !== undefined && timeout > 0 ? timeout + TIMEOUT_GRACE_MS : undefined,
      },
      timeout === undefined ? DEFAULT_RECONNECT_WAIT : timeout > 0 ? timeout : Infinity,
    );
  }

  lookup(name: string, options: { labels?: Labels } = {}): Promise<ServiceInfo[]> {
    return this.#request({ op: "lookup", name, labels: options.labels });
  }

  list(filter: ServiceFilter = {}): Promise<ServiceInfo[]> {
    return this.#request({ op: "list", filter });
  }

  /** The hub's open sessions (hub operation `sessions`; the access rules must grant `hub.sessions`). */
  sessionsInfo(): Promise<SessionInfo[]> {
    return this.#request({ op: "sessions" });
  }

  /** Live instances with their figures (hub operation `instances`; needs `hub.stats`). */
  instancesInfo(filter: ServiceFilter = {}): Promise<InstanceInfo[]> {
    return this.#request({ op: "instances", filter });
  }

  /** The hub's figures (hub operation `stats`; needs `hub.stats`). */
  stats(): Promise<HubStats> {
    return this.#request({ op: "stats" });
  }

  /**
   * Registrations coming and going. Across a reconnection the iterator goes on: it then yields
   * the difference between what it had reported and what the hub holds, marked `resync: true`
   * (no instance is ever reported `added` twice). If the client gives up it rejects with
   * `ReconnectGaveUpError`.
   */
  watch(options: WatchOptions = {}): RemoteWatch {
    const { signal, existing, ...filter } = options;
    const watch = new RemoteWatch(filter, existing !== false, signal, (ended) => this.#watches.delete(ended));
    if (this.#state === "closed") {
      watch.end(this.#failure instanceof ReconnectGaveUpError ? this.#failure : undefined);
      return watch;
    }
    if (watch.done) return watch;
    this.#watches.add(watch);
    // While reconnecting, the restore opens it.
    if (this.#state === "connected") this.#openWatch(watch, this.#connection);
    return watch;
  }

  /**
   * Publishes to a pub/sub channel. Like any request, one in flight when the connection is
   * lost fails with `RequestInterruptedError` (it may or may not have been published).
   */
  publish(channel: string, data: unknown, options: HubPublishOptions = {}): Promise<Published> {
    const { stream } = options;
    if (stream === undefined) return this.#request<Published>({ op: "publish", channel, data });
    if (!(stream instanceof ByteStream)) {
      return Promise.reject(new InvalidArgumentError("publish option stream must be a ByteStream"));
    }
    return this.#request<Published>({ op: "publish", channel, data, stream });
  }

  /**
   * Starts a byte-stream broadcast (see `HubClient.broadcast`); the stream travels as any byte
   * stream does on this connection. A lost connection resets it: a broadcast does not resume.
   */
  broadcast(channel: string, data?: unknown): Promise<Broadcast> {
    return broadcastWith((...args) => this.publish(...args), channel, data);
  }

  /**
   * Subscribes to a pub/sub channel. Across a reconnection the iteration goes on: the client
   * subscribes again from the last seq it read, so nothing the hub still keeps is missed or
   * repeated (a `Lagged` tells what it no longer keeps). Invalid names and options throw here.
   */
  subscribe(channel: string, options: HubSubscribeOptions = {}): RemoteSubscription {
    verifyChannelName(channel);
    const { signal, ...pubsubOptions } = options;
    // Checked here against the largest ring any hub allows by default; the hub checks its own.
    verifySubscribeOptions(pubsubOptions, PUBSUB_DEFAULTS.maxRing);
    const subscription = new RemoteSubscription(channel, pubsubOptions, signal, (ended) =>
      this.#watches.delete(ended),
    );
    if (this.#state === "closed") {
      subscription.end(this.#failure instanceof ReconnectGaveUpError ? this.#failure : undefined);
      return subscription;
    }
    if (subscription.done) return subscription;
    this.#watches.add(subscription);
    if (this.#state === "connected") this.#openWatch(subscription, this.#connection);
    return subscription;
  }

  /** The hub's pub/sub channels this session may subscribe to. */
  channels(): Promise<ChannelInfo[]> {
    return this.#request<ChannelInfo[]>({ op: "channels" });
  }

  #openWatch(watch: Resumable, connection: WireConnection): void {
    watch
      .open(requesterOn(connection), () => connection.isClosed)
      .catch((error: unknown) => {
        // A lost connection is the reconnection's to handle; anything else ends the watch.
        if (!connection.isClosed) watch.end(error);
      });
  }

  /** Closes the session: registrations go, watches end, waiting requests fail with `ClosedError`. */
  async close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#state = "closed";
      if (this.#pause !== undefined) {
        clearTimeout(this.#pause.timer);
        this.#pause.resolve();
      }
      const closed = new ClosedError("hub client");
      for (const waiter of [...this.#waiters]) waiter.reject(closed);
      for (const watch of [...this.#watches]) watch.end();
      // What this client wrote into its streams before goes first (their last bytes and END),
      // and leaves the process before this resolves.
      await this.#connection.closeWhenSent();
    }
    await this.#connection.closed;
    await this.#connection.finished;
    this.#resolveClosed(this.#failure);
  }

  // ---- reconnection -------------------------------------------------------------------------

  #watchConnection(connection: WireConnection): void {
    void connection.closed.then((reason) => this.#lost(connection, reason));
  }

  #lost(connection: WireConnection, reason: Error | undefined): void {
    if (connection !== this.#connection || this.#state !== "connected" || this.#closing) return;
    if (this.#policy === false) {
      this.#state = "closed";
      this.#failure = reason;
      const closed = new ClosedError("hub connection", reason);
      for (const waiter of [...this.#waiters]) waiter.reject(closed);
      for (const watch of [...this.#watches]) watch.end();
      this.dispatchEvent(new DisconnectedEvent(reason, false));
      this.#resolveClosed(reason);
      return;
    }
    this.#state = "reconnecting";
    this.dispatchEvent(new DisconnectedEvent(reason, true));
    if (this.#closing) return; // a listener closed the client
    void this.#reconnect(this.#policy, reason);
  }

  async #reconnect(policy: Exclude<ReconnectPolicy, false>, reason: Error | undefined): Promise<void> {
    const lostAt = Date.now();
    let lastError: unknown = reason;
    for (let attempt = 1; ; attempt += 1) {
      const left = lostAt + policy.giveUpAfter - Date.now();
      await this.#sleep(Math.min(backoffDelay(policy, attempt), Math.max(0, left)));
      if (this.#closing) return;
      try {
        const connection = await this.#dial!();
        if (this.#closing) {
          connection.close("the client was closed");
          return;
        }
        this.#use(connection);
        this.#watchConnection(connection);
        const restored = await this.#restore(connection);
        if (this.#closing) return;
        if (!connection.isClosed) {
          this.#state = "connected";
          // Watches made while the restore ran are opened now.
          for (const watch of this.#watches)
            if (!restored.watches.has(watch)) this.#openWatch(watch, connection);
          for (const waiter of [...this.#waiters]) waiter.resolve();
          this.dispatchEvent(
            new ReconnectedEvent(attempt, Date.now() - lostAt, restored.registrations, restored.failures),
          );
          return;
        }
        lastError = await connection.closed;
      } catch (error) {
        if (this.#closing) return;
        lastError = error;
        if (this.#isPermanent(error)) return this.#giveUp(attempt, lostAt, error);
      }
      if (attempt >= policy.maxAttempts || Date.now() - lostAt >= policy.giveUpAfter) {
        return this.#giveUp(attempt, lostAt, lastError);
      }
    }
  }

  /**
   * Registers every live registration again and re-opens every watch on `connection`. Throws
   * only if the connection fails meanwhile; other failures are reported per registration.
   */
  async #restore(connection: WireConnection): Promise<{
    registrations: ReRegistration[];
    failures: ReRegistrationFailure[];
    watches: Set<Resumable>;
  }> {
    const send = requesterOn(connection);
    const registrations: ReRegistration[] = [];
    const failures: ReRegistrationFailure[] = [];
    await Promise.all(
      [...this.#registrations].map(async (live) => {
        const previous = live.info;
        try {
          await this.#registerOn(live, send);
        } catch (error) {
          if (connection.isClosed) return;
          this.#registrations.delete(live);
          live.removed = true;
          failures.push({ name: live.name, labels: live.labels, error });
          return;
        }
        if (live.removed) {
          // Unregistered while this was in flight.
          await send({ op: "unregister", id: live.info.id }).catch(() => undefined);
          live.channel?.close();
          return;
        }
        registrations.push({ name: live.name, previous, current: live.info });
      }),
    );
    if (connection.isClosed) throw new ClosedError("hub connection", await connection.closed);
    const watches = new Set(this.#watches);
    await Promise.all(
      [...watches].map((watch) =>
        watch
          .open(send, () => connection.isClosed)
          .catch((error: unknown) => {
            if (!connection.isClosed) watch.end(error);
          }),
      ),
    );
    if (connection.isClosed) throw new ClosedError("hub connection", await connection.closed);
    return { registrations, failures, watches };
  }

  #giveUp(attempts: number, lostAt: number, cause: unknown): void {
    const error = new ReconnectGaveUpError(attempts, Date.now() - lostAt, cause);
    this.#state = "closed";
    this.#failure = error;
    for (const waiter of [...this.#waiters]) waiter.reject(error);
    for (const watch of [...this.#watches]) watch.end(error);
    for (const live of this.#registrations) live.removed = true;
    this.#registrations.clear();
    this.dispatchEvent(new GaveUpEvent(error));
    this.#resolveClosed(error);
  }

  /** Waits `ms` (cut short by `close()`). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pause = undefined;
        resolve();
      }, ms);
      this.#pause = { timer, resolve };
    });
  }
}

/** Sends hub requests on one connection, with no waiting (the restore's own path). */
function requesterOn(connection: WireConnection): HubRequester {
  return <T>(request: HubRequest) => connection.root.request<T>(request);
}

/** How errors name a request: `call "greet"`, `list`, ... */
function describe(request: HubRequest): string {
  switch (request.op) {
    case "call":
    case "register":
    case "lookup":
      return `${request.op} "${request.name}"`;
    case "publish":
    case "subscribe":
      return `${request.op} "${request.channel}"`;
    default:
      return request.op;
  }
}

function aborted(request: HubRequest, reason: unknown): Error {
  return request.op === "call"
    ? new CallAbortedError(request.name, reason)
    : new ClosedError(`${describe(request)} (aborted)`, reason);
}
