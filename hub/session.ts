import type { Context } from "@opentelemetry/api";
import { PendingCall, type CallHost, type CallOwner } from "./call.js";
import { broadcastWith } from "./broadcast.js";
import { ByteStream } from "../model/byte-stream.js";
import type { Cancelable } from "../model/cancellation.js";
import { ClosedError, ForbiddenError, InvalidArgumentError, InvalidMessageError } from "../model/errors.js";
import { checkCallOptions, checkFilter, checkLookupOptions, checkWatchOptions } from "./arguments.js";
import { closeAttachments, countAttachments } from "../model/attachments.js";
import { toDuration } from "../model/durations.js";
import { validateLabels, validateName, type Labels } from "./names.js";
import { LinkedList } from "../model/linked-list.js";
import { Instance, type Registry } from "./registry.js";
import { Scope, type Closable } from "../model/scope.js";
import type { HubStats, InstanceInfo } from "./stats/hub-stats.js";
import {
  summarizeIdentity,
  type SessionInfo,
  type SessionTraffic,
  type SessionTransport,
} from "./stats/session-info.js";
import {
  verifyChannelName,
  type ChannelInfo,
  type ChannelSubscription,
  type PubSub,
} from "../pubsub/index.js";
import type {
  Broadcast,
  HubPublishOptions,
  CallerInfo,
  CallOptions,
  Handler,
  HubClient,
  HubSubscribeOptions,
  Published,
  Identity,
  Registration,
  RegisterOptions,
  ServiceFilter,
  ServiceInfo,
  Watch,
  WatchEvent,
  WatchOptions,
} from "./types.js";

/**
 * The names the access rules check for the hub's own figures: a session may read the sessions
 * (identities, addresses, pids) if it may call `hub.sessions`, and the per-service figures if it
 * may call `hub.stats` (and then only of services it may call).
 */
export const SESSIONS_ACCESS = "hub.sessions";
export const STATS_ACCESS = "hub.stats";

/** What a session needs from its hub. */
export interface SessionHost extends CallHost {
  readonly registry: Registry;
  /** A fresh instance id, unique within the hub. */
  nextInstanceId(): string;
  /** The session closed (`reason`: why); the hub forgets it. */
  sessionClosed(session: Session, reason?: Error): void;
  /** True when the access rules let `session` call (and see) `service`. */
  mayCall?(session: Session, service: string): boolean;
  /** The session opened (after its constructor ran). */
  sessionOpened?(session: Session): void;
  /** The hub's figures (see `Hub`); a host without them answers none. */
  sessionsInfo?(): SessionInfo[];
  instancesInfo?(filter?: ServiceFilter): InstanceInfo[];
  stats?(): HubStats;
  /** Throws `ForbiddenError` unless the access rules let `session` `action` `service`. */
  checkAccess?(
    session: Session,
    action: "call" | "register" | "publish" | "subscribe",
    service: string,
  ): void;
  /** True when the access rules let `session` `action` `name`. */
  mayAccess?(session: Session, action: "publish" | "subscribe", name: string): boolean;
  /** The hub's pub/sub channels (a host without them refuses `publish` and `subscribe`). */
  readonly pubsub?: PubSub;
}

/** Options of `Hub.session`. */
export interface SessionOptions {
  /** Who is on the other end; handlers and middleware see it as `context.caller.identity`. */
  identity?: Identity;
  /**
   * The longest a call of this session may wait, in milliseconds; a call that asks for no
   * timeout (0) or a longer one gets this. Transports set it for remote peers (the hub's
   * `maxPeerCallTimeout`), so that no peer can keep work pending at the hub forever. Default:
   * no bound.
   */
  maxCallTimeout?: number;
  /** What carries the session and where it comes from (transports set it; default: in memory). */
  peer?: SessionPeer;
}

/** What carries a session, as `hub.sessionsInfo()` and the metrics show it. */
export interface SessionPeer {
  /** Default `"memory"`. */
  transport?: SessionTransport;
  /** The peer's network address, where it has one. */
  remoteAddress?: string | undefined;
  /** Reads the session's traffic and what it has open (a wire session's counters). */
  traffic?: () => SessionTraffic;
}

/**
 * One participant's view of a hub: what it registers and calls, and everything that passed
 * through it, belongs to it. Closing a session unregisters its services (their pending calls
 * fail over or fail), rejects its own pending calls, ends its watches, and closes every channel,
 * byte stream and descriptor its messages carried. Every transport gives each connected peer
 * one session; in one process, `hub.session()` makes one.
 */
export class Session implements HubClient, CallOwner, Closable {
  readonly id: string;
  readonly identity: Identity | undefined;
  readonly caller: CallerInfo;
  readonly scope = new Scope();
  readonly transport: SessionTransport;
  readonly remoteAddress: string | undefined;
  /** When the session opened, in milliseconds since the epoch. */
  readonly connectedAt = Date.now();
  readonly #traffic: (() => SessionTraffic) | undefined;

  readonly #host: SessionHost;
  readonly #calls = new LinkedList<PendingCall>();
  readonly #instances = new Set<Instance>();
  readonly #watches = new Set<Watch>();
  readonly #subscriptions = new Set<ChannelSubscription>();
  /** See `SessionOptions.maxCallTimeout`; 0: no bound. */
  readonly #maxCallTimeout: number;
  #closed: ClosedError | undefined;

  constructor(host: SessionHost, id: string, options: SessionOptions = {}) {
    this.#host = host;
    this.id = id;
    this.identity = options.identity;
    this.#maxCallTimeout =
      options.maxCallTimeout === undefined ? 0 : toDuration(options.maxCallTimeout, "maxCallTimeout");
    this.caller = Object.freeze({ sessionId: id, identity: options.identity });
    this.sender = options.identity?.id ?? `anonymous:${id}`;
    this.transport = options.peer?.transport ?? "memory";
    this.remoteAddress = options.peer?.remoteAddress;
    this.#traffic = options.peer?.traffic;
    host.sessionOpened?.(this);
  }

  /** What the session is and does now (`hub.sessionsInfo()`); nothing secret. */
  info(): SessionInfo {
    let servingInFlight = 0;
    for (const instance of this.#instances) servingInFlight += instance.pending.size;
    const identity = summarizeIdentity(this.identity);
    const traffic = this.traffic();
    return {
      id: this.id,
      transport: this.transport,
      ...(this.remoteAddress === undefined ? {} : { remoteAddress: this.remoteAddress }),
      ...(identity === undefined ? {} : { identity }),
      connectedAt: this.connectedAt,
      services: this.#instances.size,
      callsInFlight: this.#calls.size,
      servingInFlight,
      watches: this.#watches.size,
      ...(traffic === undefined ? {} : { traffic }),
    };
  }

  /** The session's traffic so far, for sessions over a wire; never throws. */
  traffic(): SessionTraffic | undefined {
    try {
      return this.#traffic?.();
    } catch {
      return undefined;
    }
  }

  /**
   * The tag this session's publications carry (`PubSubMessage.from`): its authenticated
   * identity's id, or `anonymous:<session id>` for a peer without one. Set by the hub, never
   * taken from a message, so a subscriber can trust it as far as it trusts the hub's
   * authentication. `echo: false` leaves out messages carrying this same tag.
   */
  readonly sender: string;

  get isClosed(): boolean {
    return this.#closed !== undefined;
  }

  register<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options: RegisterOptions = {},
  ): Promise<Registration> {
    try {
      return Promise.resolve(this.registerNow(name, handler, options));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * `register` without the promise, for in-process callers that want the handle at once. With
   * `fallback`, the instance serves only calls no other instance matches (a cluster's stand-in
   * for an instance on another host).
   */
  registerNow<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options: RegisterOptions & { fallback?: boolean } = {},
  ): Registration {
    if (this.#closed) throw this.#closed;
    validateName(name);
    this.#checkAccess("register", name);
    if (typeof handler !== "function") {
      throw new InvalidArgumentError(`handler for "${name}" must be a function, got ${typeof handler}`);
    }
    const labels = validateLabels(options.labels);
    const info: ServiceInfo = Object.freeze({
      name,
      id: this.#host.nextInstanceId(),
      labels,
      sessionId: this.id,
    });
    const instance = new Instance(
      info,
      handler as Handler,
      this.scope,
      this.#host.counters?.callStats(),
      options.fallback === true,
    );
    this.#instances.add(instance);
    this.#host.registry.add(instance);
    const unregister = (): Promise<void> => {
      this.#unregister(instance, "unregistered");
      return Promise.resolve();
    };
    return { info, unregister, [Symbol.asyncDispose]: unregister };
  }

  call<Reply = unknown>(name: string, data?: unknown, options?: CallOptions): Promise<Reply> {
    if (this.#closed) {
      closeAttachments(data, this.#closed);
      return Promise.reject(this.#closed);
    }
    let checked: CallOptions | undefined;
    try {
      checked = this.#checkCall(name, options);
      this.#checkAccess("call", name);
    } catch (error) {
      closeAttachments(data, error);
      return Promise.reject(error);
    }
    return new PendingCall(this.#host, this, name, data, checked).start() as Promise<Reply>;
  }

  /**
   * @internal `call` for transports: the reply of a synchronous handler comes back as is (its
   * error thrown), anything else as a promise. `cancelWith` stands for `options.cancelWith`;
   * `traceParent` is the trace context received with the call (`ROOT_CONTEXT` for none);
   * `forwardsReply`: the transport sends the reply on unread, so a routed reply may stay as the
   * bytes it came in (see `PendingCall.forwardsReply`).
   */
  callRaw(
    name: string,
    data: unknown,
    options?: CallOptions,
    cancelWith?: Cancelable,
    traceParent?: Context,
    forwardsReply = false,
  ): unknown {
    if (this.#closed) {
      closeAttachments(data, this.#closed);
      throw this.#closed;
    }
    let checked: CallOptions | undefined;
    try {
      checked = this.#checkCall(name, options);
      this.#checkAccess("call", name);
    } catch (error) {
      closeAttachments(data, error);
      throw error;
    }
    const call = new PendingCall(this.#host, this, name, data, checked, cancelWith, traceParent);
    call.forwardsReply = forwardsReply;
    return call.start(true);
  }

  /** The access rules' check, with refusals counted. */
  #checkAccess(action: "call" | "register", name: string): void {
    const check = this.#host.checkAccess;
    if (check === undefined) return;
    try {
      check.call(this.#host, this, action, name);
    } catch (error) {
      if (error instanceof ForbiddenError && this.#host.counters !== undefined)
        this.#host.counters.forbidden++;
      throw error;
    }
  }

  /**
   * A call's name and options, checked before anything is set up (see arguments.ts), with the
   * session's bound on timeouts applied. The common call without options costs two compares.
   */
  #checkCall(name: unknown, options: CallOptions | undefined): CallOptions | undefined {
    if (typeof name !== "string") validateName(name);
    let checked = options === undefined ? undefined : checkCallOptions(options);
    const max = this.#maxCallTimeout;
    if (max > 0) {
      const timeout = checked?.timeout ?? this.#host.defaultTimeout;
      if (timeout === 0 || timeout > max) checked = { ...checked, timeout: max };
    }
    return checked;
  }

  /**
   * The hub's open sessions (`hub.sessionsInfo()`), if the access rules let this session call
   * `hub.sessions` (they show identities, addresses and pids); else `ForbiddenError`.
   */
  sessionsInfo(): Promise<SessionInfo[]> {
    try {
      this.#checkAccess("call", SESSIONS_ACCESS);
      return Promise.resolve(this.#host.sessionsInfo?.() ?? []);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * The live instances matching `filter` with their figures (`hub.instancesInfo()`), if the
   * access rules let this session call `hub.stats`, and of those only the services it may call.
   */
  instancesInfo(filter?: ServiceFilter): Promise<InstanceInfo[]> {
    try {
      this.#checkAccess("call", STATS_ACCESS);
      const instances = this.#host.instancesInfo?.(checkFilter(filter)) ?? [];
      return Promise.resolve(instances.filter((instance) => this.#mayCall(instance.name)));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** The hub's figures (`hub.stats()`), as `instancesInfo` allows, of the services this session may call. */
  stats(): Promise<HubStats> {
    try {
      this.#checkAccess("call", STATS_ACCESS);
      const stats = this.#host.stats?.();
      if (stats === undefined) throw new InvalidArgumentError("this hub keeps no figures");
      return Promise.resolve({
        ...stats,
        services: stats.services.filter((service) => this.#mayCall(service.name)),
      });
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #mayCall(name: string): boolean {
    return this.#host.mayCall === undefined || this.#host.mayCall(this, name);
  }

  lookup(name: string, options?: { labels?: Labels }): Promise<ServiceInfo[]> {
    try {
      validateName(name);
      const { labels } = checkLookupOptions(options);
      return Promise.resolve(this.#visible(this.#host.registry.list({ name, labels })));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  list(filter?: ServiceFilter): Promise<ServiceInfo[]> {
    try {
      return Promise.resolve(this.#visible(this.#host.registry.list(checkFilter(filter))));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  watch(options?: WatchOptions): Watch {
    if (this.#closed) throw this.#closed;
    const checked = checkWatchOptions(options);
    const watch = this.#host.registry.watch(
      { name: checked.name, prefix: checked.prefix, labels: checked.labels },
      checked.existing ?? true,
      checked.signal,
      (done) => this.#watches.delete(done),
    );
    if (!watch.done) this.#watches.add(watch);
    const mayCall = this.#host.mayCall?.bind(this.#host);
    return mayCall === undefined ? watch : visibleWatch(watch, (name) => mayCall(this, name));
  }

  publish(channel: string, data: unknown, options?: HubPublishOptions): Promise<Published> {
    const stream = options?.stream;
    try {
      this.#checkChannel(channel, "publish");
      if (countAttachments(data) > 0) {
        // One channel or stream cannot be handed to many subscribers, nor kept in history.
        throw new InvalidMessageError(
          `a pub/sub message cannot carry channels, byte streams or descriptors (publishing to "${channel}"; a stream to broadcast goes in options.stream)`,
        );
      }
      return this.#pubsub().publish(channel, data, this.sender, { origin: this, stream });
    } catch (error) {
      closeAttachments(data, error);
      if (stream instanceof ByteStream) stream.reset(error);
      return Promise.reject(error);
    }
  }

  broadcast(channel: string, data?: unknown): Promise<Broadcast> {
    return broadcastWith((...args) => this.publish(...args), channel, data);
  }

  subscribe(channel: string, options: HubSubscribeOptions = {}): ChannelSubscription {
    this.#checkChannel(channel, "subscribe");
    if (options === null || typeof options !== "object") {
      throw new InvalidArgumentError("subscribe options must be an object");
    }
    const { signal, ...pubsubOptions } = options;
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      throw new InvalidArgumentError("subscribe option signal must be an AbortSignal");
    }
    const subscription = this.#pubsub().subscribe(channel, this.sender, pubsubOptions, this);
    this.#subscriptions.add(subscription);
    const onAbort = (): void => subscription.close();
    signal?.addEventListener("abort", onAbort, { once: true });
    subscription.onClose(() => {
      this.#subscriptions.delete(subscription);
      signal?.removeEventListener("abort", onAbort);
    });
    if (signal?.aborted === true) subscription.close();
    return subscription;
  }

  channels(): Promise<ChannelInfo[]> {
    try {
      if (this.#closed) throw this.#closed;
      const channels = this.#pubsub().channels();
      const mayAccess = this.#host.mayAccess;
      if (mayAccess === undefined) return Promise.resolve(channels);
      return Promise.resolve(
        channels.filter((info) => mayAccess.call(this.#host, this, "subscribe", info.name)),
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #checkChannel(channel: string, action: "publish" | "subscribe"): void {
    if (this.#closed) throw this.#closed;
    verifyChannelName(channel);
    this.#host.checkAccess?.(this, action, channel);
  }

  #pubsub(): PubSub {
    const pubsub = this.#host.pubsub;
    if (pubsub === undefined) throw new InvalidArgumentError("this hub has no pub/sub channels");
    return pubsub;
  }

  /** The registrations this session may see: those of services it may call. */
  #visible(services: ServiceInfo[]): ServiceInfo[] {
    const mayCall = this.#host.mayCall;
    if (mayCall === undefined) return services;
    return services.filter((service) => mayCall.call(this.#host, this, service.name));
  }

  /** @internal A call this session made is waiting for its reply. */
  trackCall(call: PendingCall): void {
    this.#calls.add(call.ownerLink);
  }

  /** @internal A call this session made has settled. */
  forgetCall(call: PendingCall): void {
    this.#calls.remove(call.ownerLink);
  }

  /** @internal Rejects every pending call this session made with `error`. */
  failCalls(error: ClosedError): void {
    for (const call of this.#calls.takeAll()) call.close(error);
  }

  close(reason?: unknown): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = reason instanceof ClosedError ? reason : new ClosedError(`session ${this.id}`, reason);
    this.failCalls(this.#closed);
    // Copied only when there is something to close: most sessions of plain HTTP requests
    // (one per request) have none of them (issue 19).
    if (this.#instances.size > 0)
      for (const instance of [...this.#instances]) this.#unregister(instance, `session ${this.id} closed`);
    if (this.#watches.size > 0) for (const watch of [...this.#watches]) watch.close();
    if (this.#subscriptions.size > 0)
      for (const subscription of [...this.#subscriptions]) subscription.close();
    this.scope.close(this.#closed);
    this.#host.sessionClosed(this, this.#closed);
    return Promise.resolve();
  }

  #unregister(instance: Instance, why: string): void {
    if (!this.#instances.delete(instance)) return;
    this.#host.registry.remove(instance);
    for (const call of instance.pending.takeAll()) call.instanceGone(why);
    // After its calls moved on (each counted "gone" here): the counts are final.
    if (instance.stats !== undefined)
      this.#host.counters?.retire(instance.info.name, instance.stats.snapshot());
  }
}

/** `watch` without the events of services `visible` refuses (checked when each event is read). */
function visibleWatch(watch: Watch, visible: (name: string) => boolean): Watch {
  const filtered: Watch = {
    async next(): Promise<IteratorResult<WatchEvent>> {
      for (;;) {
        const result = await watch.next();
        if (result.done === true || visible(result.value.service.name)) return result;
      }
    },
    return: () => watch.return!(),
    close: () => watch.close(),
    [Symbol.asyncIterator]: () => filtered,
  };
  return filtered;
}
