import type { PendingCall } from "./call.js";
import { toDuration } from "../model/durations.js";
import { ClosedError, ForbiddenError, InvalidArgumentError } from "../model/errors.js";
import type { Labels } from "./names.js";
import { PubSub, type ChannelInfo, type PubSubOptions } from "../pubsub/index.js";
import { Registry } from "./registry.js";
import type { CallOutcome } from "./stats/call-stats.js";
import { HubCounters } from "./stats/hub-counters.js";
import { collectHubStats, describeInstances, type HubStats, type InstanceInfo } from "./stats/hub-stats.js";
import type { SessionInfo } from "./stats/session-info.js";
import { Session, type SessionHost, type SessionOptions } from "./session.js";
import { checkFilter } from "./arguments.js";
import { CborKept } from "../codecs/cbor.js";
import { isRouting } from "./routed-reply.js";
import type {
  Broadcast,
  HubPublishOptions,
  CallOptions,
  Handler,
  HubSubscribeOptions,
  HubSubscription,
  Published,
  Identity,
  HubClient,
  Middleware,
  Registration,
  RegisterOptions,
  ServiceFilter,
  ServiceInfo,
  Watch,
  WatchOptions,
} from "./types.js";

/**
 * Per-service access rules (`hub.authorize(rules)`): who may call and who may register a name,
 * and who may publish to and subscribe to a pub/sub channel. Each rule gets the session's
 * identity (`undefined` for anonymous peers) and the service or channel name, and returns true
 * to allow. A missing rule allows everything. Sessions that may not call a service do not see it
 * either: `list`, `lookup` and `watch` leave it out.
 */
export interface AccessRules {
  call?(identity: Identity | undefined, service: string): boolean;
  register?(identity: Identity | undefined, service: string): boolean;
  publish?(identity: Identity | undefined, channel: string): boolean;
  subscribe?(identity: Identity | undefined, channel: string): boolean;
}

/** What an access rule decides on. */
export type AccessAction = keyof AccessRules;

/** Options of `new Hub()`. */
export interface HubOptions {
  /** Access rules, as `hub.authorize(rules)`. */
  authorize?: AccessRules;
  /** Timeout of calls that set none, in milliseconds; 0 disables (default 30 000). */
  callTimeout?: number;
  /** How many other instances a call may move to when its instance goes away (default 2). */
  maxFailover?: number;
  /**
   * The longest a call from a remote peer may wait, in milliseconds (default 3 600 000, one
   * hour): a peer's call that asks for no timeout (0) or a longer one gets this, so that no peer
   * can keep work pending at the hub forever. In-process callers are not bounded.
   */
  maxPeerCallTimeout?: number;
  /**
   * The pub/sub channels' limits and persistence (history per channel, publish timeout, ...);
   * or a `PubSub` to use as is.
   */
  pubsub?: PubSubOptions | PubSub;
  /**
   * Count calls, errors and latencies per instance and traffic per session (default true): what
   * `hub.stats()`, `hub.instancesInfo()` and the metrics report. Off, a call costs a few
   * nanoseconds less (bench/metrics-cost.ts measures both) and those figures stay at zero.
   */
  stats?: boolean;
  /**
   * A call that takes at least this many milliseconds is reported to observers' `slowCall`
   * (default: none). Calls are timed by a sample of about 1000 a second per instance: every call
   * of an instance called less often, else at least one in 32 while slow calls are reported
   * (hub/stats/call-stats.ts).
   */
  slowCallMs?: number;
}

/** A call that took at least `HubOptions.slowCallMs`. */
export interface SlowCall {
  readonly service: string;
  /** The instance that served it. */
  readonly instance: string;
  /** The calling session and its identity id. */
  readonly caller: { readonly sessionId: string; readonly identity?: string };
  readonly ms: number;
  readonly outcome: CallOutcome;
}

/**
 * Told what happens in a hub (`hub.observe(observer)`): sessions coming and going, slow calls.
 * Called synchronously; an observer that throws is ignored (it must not break the hub).
 */
export interface HubObserver {
  sessionOpened?(session: SessionInfo): void;
  sessionClosed?(session: SessionInfo, reason: Error | undefined): void;
  slowCall?(call: SlowCall): void;
}

/**
 * The service hub: a registry of named services and the dispatcher of calls between them.
 *
 * A hub is itself a `HubClient` (through its own local session), so in one process you register
 * and call on it directly; every transport connects remote peers to it as further sessions.
 *
 * ```ts
 * const hub = new Hub();
 * await hub.register("greet", (name: string) => `hello ${name}`);
 * console.log(await hub.call("greet", "world")); // "hello world"
 * ```
 */
export class Hub implements HubClient, SessionHost {
  readonly registry = new Registry();
  readonly defaultTimeout: number;
  readonly maxFailover: number;
  /** See `HubOptions.maxPeerCallTimeout`. */
  readonly maxPeerCallTimeout: number;
  /** When the hub was made, in milliseconds since the epoch. */
  readonly startedAt = Date.now();
  /** @internal The hub's totals; undefined with `stats: false`. */
  readonly counters: HubCounters | undefined;
  /** @internal See `HubOptions.slowCallMs`. */
  readonly slowCallMs: number;
  /** The hub's pub/sub channels, shared by every session and face (`publish`, `subscribe`). */
  readonly pubsub: PubSub;

  readonly #sessions = new Set<Session>();
  readonly #observers = new Set<HubObserver>();
  readonly #middleware: Middleware[] = [];
  readonly #rules: AccessRules[] = [];
  #chain: ((call: PendingCall) => unknown) | undefined;
  #sessionCount = 0;
  #instanceCount = 0;
  #closed: ClosedError | undefined;
  #pubsubClosed: Promise<void> | undefined;
  readonly #local: Session;

  constructor(options: HubOptions = {}) {
    const {
      callTimeout = 30_000,
      maxFailover = 2,
      maxPeerCallTimeout = 3_600_000,
      authorize,
      pubsub,
    } = options;
    if (!(maxFailover >= 0)) throw new InvalidArgumentError(`maxFailover must be >= 0, got ${maxFailover}`);
    if (options.stats !== undefined && typeof options.stats !== "boolean")
      throw new InvalidArgumentError(`stats must be a boolean, got ${typeof options.stats}`);
    this.slowCallMs =
      options.slowCallMs === undefined
        ? Number.POSITIVE_INFINITY
        : toDuration(options.slowCallMs, "slowCallMs") || Number.POSITIVE_INFINITY;
    this.counters =
      options.stats === false ? undefined : new HubCounters(this.slowCallMs !== Number.POSITIVE_INFINITY);
    this.defaultTimeout = toDuration(callTimeout, "callTimeout");
    this.maxPeerCallTimeout = toDuration(maxPeerCallTimeout, "maxPeerCallTimeout");
    this.maxFailover = maxFailover;
    this.pubsub = pubsub instanceof PubSub ? pubsub : new PubSub(pubsub);
    this.#local = this.session({ identity: { id: "local", via: "local" }, peer: { transport: "local" } });
    if (authorize !== undefined) this.authorize(authorize);
  }

  /** A new session on this hub: what it registers and calls belongs to it until it closes. */
  session(options: SessionOptions = {}): Session {
    if (this.#closed) throw this.#closed;
    this.#sessionCount += 1;
    const session = new Session(this, `s${this.#sessionCount}`, options);
    this.#sessions.add(session);
    return session;
  }

  /**
   * Tells `observer` of sessions opening and closing and of slow calls, until the returned
   * function is called.
   */
  observe(observer: HubObserver): () => void {
    if (observer === null || typeof observer !== "object")
      throw new InvalidArgumentError("observer must be an object");
    this.#observers.add(observer);
    return () => {
      this.#observers.delete(observer);
    };
  }

  /** Every open session, what carries it, who it is and what it does (nothing secret). */
  sessionsInfo(): SessionInfo[] {
    return [...this.#sessions].map((session) => session.info());
  }

  /** The live instances matching `filter`, with their calls, errors and latency percentiles. */
  instancesInfo(filter?: ServiceFilter): InstanceInfo[] {
    return describeInstances(this.registry.instances(checkFilter(filter)), this.#sessionsById());
  }

  /** Everything the hub counts: sessions by transport, traffic, calls per name and outcome. */
  stats(): HubStats {
    const counters = this.counters ?? new HubCounters();
    return collectHubStats(this.startedAt, this.#sessions, this.registry.instances(), counters);
  }

  #sessionsById(): Map<string, Session> {
    return new Map([...this.#sessions].map((session) => [session.id, session]));
  }

  #tell(event: (observer: HubObserver) => void): void {
    for (const observer of this.#observers) {
      try {
        event(observer);
      } catch {
        // An observer must not break the hub (see HubObserver).
      }
    }
  }

  /** @internal */
  sessionOpened(session: Session): void {
    if (this.counters !== undefined) this.counters.opened[session.transport]++;
    if (this.#observers.size > 0) {
      const info = session.info();
      this.#tell((observer) => observer.sessionOpened?.(info));
    }
  }

  /** @internal */
  slowCall(call: PendingCall, ms: number, outcome: CallOutcome): void {
    if (this.#observers.size === 0) return;
    const identity = call.caller.identity?.id;
    const event: SlowCall = {
      service: call.service.name,
      instance: call.service.id,
      caller: { sessionId: call.caller.sessionId, ...(identity === undefined ? {} : { identity }) },
      ms,
      outcome,
    };
    this.#tell((observer) => observer.slowCall?.(event));
  }

  /**
   * Adds middleware around every call this hub dispatches, outermost first: each runs before
   * the next and may change `context.data`, inspect `context.caller`, or throw to refuse.
   */
  use(middleware: Middleware): this {
    if (typeof middleware !== "function") throw new InvalidArgumentError("middleware must be a function");
    this.#middleware.push(middleware);
    this.#chain = compose(this.#middleware);
    return this;
  }

  /**
   * Adds access rules for every session of every transport: a session whose identity a rule
   * refuses gets `ForbiddenError` (`EFORBIDDEN`) when it calls or registers that name, whether
   * or not the service exists, and its `list`/`lookup`/`watch` leave out services it may not
   * call. With several rule sets, all must allow. The hub's own session (`hub.call`,
   * `hub.register` in this process) is trusted and never checked.
   */
  authorize(rules: AccessRules): this {
    if (rules === null || typeof rules !== "object")
      throw new InvalidArgumentError("rules must be an object");
    for (const key of ["call", "register", "publish", "subscribe"] as const) {
      if (rules[key] !== undefined && typeof rules[key] !== "function") {
        throw new InvalidArgumentError(`rules.${key} must be a function`);
      }
    }
    this.#rules.push(rules);
    return this;
  }

  /**
   * @internal True when the access rules let a peer with `identity` (undefined: anonymous) call
   * `service`, e.g. to read figures over plain HTTP where there is no session.
   */
  identityMayCall(identity: Identity | undefined, service: string): boolean {
    for (const rules of this.#rules) {
      try {
        if (rules.call !== undefined && rules.call.call(rules, identity, service) !== true) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  /** @internal True when `session` may call (and see) `service`. */
  mayCall(session: Session, service: string): boolean {
    return this.#allows(session, "call", service);
  }

  /** @internal Throws `ForbiddenError` unless `session` may `action` `service`. */
  checkAccess(session: Session, action: AccessAction, service: string): void {
    if (action === "register" && isReservedName(service) && session !== this.#local) {
      throw new ForbiddenError(
        action,
        service,
        session.identity?.id,
        `names "hub" and "hub.*" are reserved for the hub itself`,
      );
    }
    if (!this.#allows(session, action, service))
      throw new ForbiddenError(action, service, session.identity?.id);
  }

  #allows(session: Session, action: AccessAction, service: string): boolean {
    return session === this.#local || this.allows(session.identity, action, service);
  }

  /**
   * Whether the access rules let `identity` (`undefined`: anonymous) do `action` on `name`: for
   * faces that admit peers without a session of their own (the Mles face). A rule that throws
   * refuses: access control fails closed.
   */
  allows(identity: Identity | undefined, action: AccessAction, name: string): boolean {
    for (const rules of this.#rules) {
      const rule = rules[action];
      try {
        if (rule !== undefined && rule.call(rules, identity, name) !== true) return false;
      } catch {
        return false;
      }
    }
    return true;
  }

  register<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options?: RegisterOptions,
  ): Promise<Registration> {
    return this.#local.register(name, handler, options);
  }

  call<Reply = unknown>(name: string, data?: unknown, options?: CallOptions): Promise<Reply> {
    return this.#local.call<Reply>(name, data, options);
  }

  lookup(name: string, options?: { labels?: Labels }): Promise<ServiceInfo[]> {
    return this.#local.lookup(name, options);
  }

  list(filter?: ServiceFilter): Promise<ServiceInfo[]> {
    return this.#local.list(filter);
  }

  watch(options?: WatchOptions): Watch {
    return this.#local.watch(options);
  }

  publish(channel: string, data: unknown, options?: HubPublishOptions): Promise<Published> {
    return this.#local.publish(channel, data, options);
  }

  broadcast(channel: string, data?: unknown): Promise<Broadcast> {
    return this.#local.broadcast(channel, data);
  }

  subscribe(channel: string, options?: HubSubscribeOptions): HubSubscription {
    return this.#local.subscribe(channel, options);
  }

  channels(): Promise<ChannelInfo[]> {
    return this.#local.channels();
  }

  /** @internal True when the access rules let `session` `action` `name`. */
  mayAccess(session: Session, action: AccessAction, name: string): boolean {
    return this.#allows(session, action, name);
  }

  /**
   * Closes every session: registrations go, pending calls reject with `ClosedError`,
   * subscriptions end, and the pub/sub log (if any) is flushed and closed.
   */
  close(): Promise<void> {
    if (this.#closed) return this.#pubsubClosed ?? Promise.resolve();
    this.#closed = new ClosedError("hub");
    // Every caller learns the hub closed before any instance goes (which would look like a
    // service going away and trigger failover).
    for (const session of this.#sessions) session.failCalls(this.#closed);
    for (const session of [...this.#sessions]) void session.close(this.#closed);
    this.registry.closeWatchers();
    this.#pubsubClosed = this.pubsub.close();
    return this.#pubsubClosed;
  }

  get isClosed(): boolean {
    return this.#closed !== undefined;
  }

  /** @internal */
  invoke(call: PendingCall): unknown {
    const chain = this.#chain;
    // Only a CBOR session's call (`forwardsReply`) can carry data kept as bytes (`CborKept`): an
    // in-process call pays no check (an `instanceof` per call here cost in-process calls 10–25 %).
    if (call.forwardsReply) return this.#invokeForwarding(call, chain);
    return chain === undefined ? call.instance!.handler(call.data, call) : chain(call);
  }

  #invokeForwarding(call: PendingCall, chain: ((call: PendingCall) => unknown) | undefined): unknown {
    const data = call.data;
    if (chain === undefined) {
      const handler = call.instance!.handler;
      // Data a session routed unread (`CborKept`) is decoded for any handler but one that
      // routes it on to another session.
      if (data instanceof CborKept && !isRouting(handler)) call.data = data.decoded();
      return handler(call.data, call);
    }
    // Middleware reads the data and the reply: neither stays encoded.
    call.forwardsReply = false;
    if (data instanceof CborKept) call.data = data.decoded();
    return chain(call);
  }

  /** @internal */
  nextInstanceId(): string {
    this.#instanceCount += 1;
    return `i${this.#instanceCount}`;
  }

  /** @internal */
  sessionClosed(session: Session, reason?: Error): void {
    this.#sessions.delete(session);
    this.counters?.sessionClosed(session.transport, session.traffic());
    if (this.#observers.size > 0) {
      const info = session.info();
      const cause = reason instanceof ClosedError && reason.cause instanceof Error ? reason.cause : reason;
      this.#tell((observer) => observer.sessionClosed?.(info, cause));
    }
  }
}

/**
 * Names the hub answers itself (`hub.info`): nobody else may register them, or a peer could
 * answer some of the calls meant for the hub.
 */
function isReservedName(name: string): boolean {
  return name === "hub" || name.startsWith("hub.");
}

/** Folds middleware into one function that ends in the handler. */
function compose(middleware: readonly Middleware[]): (call: PendingCall) => unknown {
  const handler = (call: PendingCall): unknown => call.instance!.handler(call.data, call);
  return middleware.reduceRight<(call: PendingCall) => unknown>(
    (next, layer) => (call) => layer(call, () => Promise.resolve().then(() => next(call))),
    handler,
  );
}
