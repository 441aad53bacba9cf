import type { Context } from "@opentelemetry/api";
import type { ByteStream } from "../model/byte-stream.js";
import type { Cancelable } from "../model/cancellation.js";
import type { Identity } from "../model/identity.js";
import type { Labels } from "./names.js";
import type { ChannelInfo, SubscribeOptions, Subscription } from "../pubsub/index.js";

export type { Identity };
export type {
  ChannelInfo,
  Lagged,
  LagPolicy,
  PubSubMessage,
  SubscribeOptions,
  Subscription,
} from "../pubsub/index.js";

/** Options of a hub client's `subscribe`: the pub/sub options, and a signal that ends it. */
export interface HubSubscribeOptions extends SubscribeOptions {
  /** Ends the subscription (as `close()`). */
  signal?: AbortSignal;
}

/** A subscription of a hub client. */
export interface HubSubscription extends Subscription {
  /**
   * Resolves once the hub holds the subscription (at once in one process), or rejects with why
   * it refused (e.g. `ForbiddenError`); a refused subscription's first read rejects the same way.
   */
  readonly ready: Promise<void>;
}

/** Where a publication landed in its channel. */
export interface Published {
  /** Its position in the channel (1, 2, ...). */
  readonly seq: number;
  /** When the hub accepted it (milliseconds since the epoch). */
  readonly time: number;
}

/** Options of a hub client's `publish`. */
export interface HubPublishOptions {
  /**
   * A byte-stream broadcast: the hub reads this stream (what is written to its other end) once
   * and every subscriber gets the message with its own copy, under its lag policy. The
   * publication is numbered but not kept in history. `broadcast()` makes the pair for you.
   */
  stream?: ByteStream;
}

/** A byte-stream broadcast under way (`broadcast()`): write to `stream` what subscribers read. */
export interface Broadcast extends Published {
  /**
   * The publisher's end: `writable` feeds every subscriber's copy (its writes wait for the
   * slowest `lag: "wait"` subscriber); `writable.close()` ends every copy, `reset()` resets them.
   * Its `readable` ends at once: the hub sends nothing back.
   */
  readonly stream: ByteStream;
}

/** One registered instance of a service, as discovery shows it. */
export interface ServiceInfo {
  /** The service name; several instances may share it. */
  readonly name: string;
  /** Unique id of this instance within its hub. */
  readonly id: string;
  readonly labels: Labels;
  /** Id of the session that registered it. */
  readonly sessionId: string;
}

/** The session a call came from, as a handler sees it. */
export interface CallerInfo {
  readonly sessionId: string;
  readonly identity: Identity | undefined;
}

/** What a service handler receives besides the request data. */
export interface CallContext extends Cancelable {
  /** The instance serving the call. */
  readonly service: ServiceInfo;
  /** Where the call came from. */
  readonly caller: CallerInfo;
  /**
   * Aborted when the call is cancelled, times out, or its caller goes away; pass it on to
   * whatever the handler waits for.
   */
  readonly signal: AbortSignal;
  /**
   * Calls `listener` when the call is cancelled (the cheap form of `signal`: no AbortSignal is
   * made unless someone reads `signal`).
   */
  onCancel(listener: (reason: unknown) => void): void;
  /** When the caller stops waiting (milliseconds since the epoch), if it set a timeout. */
  readonly deadline: number | undefined;
  /**
   * The OpenTelemetry context of the call, when it is traced (an SDK is registered, or the
   * caller sent W3C trace context): its span is the parent of whatever the handler starts. The
   * handler already runs in it, so calls it makes through a hub continue the trace by themselves.
   */
  readonly traceContext?: Context | undefined;
}

/**
 * Serves one call: returns (or resolves to) the reply data, or throws — the caller then gets a
 * `ServiceError` with the thrown error's name, message and code.
 */
export type Handler<Request = unknown, Reply = unknown> = (
  data: Request,
  context: CallContext,
) => Reply | Promise<Reply>;

/** The mutable view of a call that middleware sees. */
export interface MiddlewareContext extends CallContext {
  /** The request data; middleware may replace it before calling `next`. */
  data: unknown;
}

/**
 * Runs around every call a hub dispatches (in the hub that owns the registry, whichever
 * transport the caller and the service use). Call `next()` to continue, or throw to refuse.
 */
export type Middleware = (context: MiddlewareContext, next: () => Promise<unknown>) => Promise<unknown>;

/** Options of `call`. */
export interface CallOptions {
  /** Milliseconds before the call fails with `CallTimeoutError`; 0 disables. Default: the hub's. */
  timeout?: number;
  /** Cancels the call (`CallAbortedError`) and aborts the handler's signal. */
  signal?: AbortSignal;
  /** Cancels the call when this cancels (e.g. the context of the handler making the call). */
  cancelWith?: Cancelable;
  /** Only instances carrying all of these labels may serve the call. */
  labels?: Labels;
  /** Only this instance (a `ServiceInfo.id`) may serve the call. */
  instance?: string;
  /**
   * When nobody serves the name yet, wait up to this many milliseconds for an instance to
   * appear instead of failing at once (`true`: as long as the call's timeout allows).
   */
  waitForService?: number | boolean;
}

/** Options of `register`. */
export interface RegisterOptions {
  labels?: Labels;
}

/** A live registration; disposing it (or `unregister()`) removes the instance. */
export interface Registration extends AsyncDisposable {
  readonly info: ServiceInfo;
  unregister(): Promise<void>;
}

/** A registration coming or going. */
export interface WatchEvent {
  readonly type: "added" | "removed";
  readonly service: ServiceInfo;
}

/** Which registrations to list or watch. */
export interface ServiceFilter {
  /** Exactly this name. */
  name?: string;
  /** Names starting with this prefix. */
  prefix?: string;
  /** Instances carrying all of these labels. */
  labels?: Labels;
}

/** Options of `watch`: which services to watch (a `ServiceFilter`), from when, until when. */
export interface WatchOptions extends ServiceFilter {
  /** Start with an `added` event for every matching instance already registered (default true). */
  existing?: boolean;
  /** Ends the watch. */
  signal?: AbortSignal;
}

/** An async iterable of registry events that can be stopped early. */
export interface Watch extends AsyncIterableIterator<WatchEvent> {
  /** Ends the iteration; idempotent. */
  close(): void;
}

/**
 * What every beamhub session offers, whether the hub is in this process or across a transport:
 * the compliance suite runs exactly this interface against every transport.
 */
export interface HubClient {
  /** Serves `name` with `handler` until the registration is disposed or the session closes. */
  register<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options?: RegisterOptions,
  ): Promise<Registration>;
  /** Calls one instance of `name` and resolves to its reply. */
  call<Reply = unknown>(name: string, data?: unknown, options?: CallOptions): Promise<Reply>;
  /** The instances serving `name` (optionally only those with `labels`). */
  lookup(name: string, options?: { labels?: Labels }): Promise<ServiceInfo[]>;
  /** Every instance matching `filter`. */
  list(filter?: ServiceFilter): Promise<ServiceInfo[]>;
  /** Registrations coming and going, as they happen. */
  watch(options?: WatchOptions): Watch;
  /**
   * Publishes `data` to the pub/sub channel `channel` (a name under the service-name rules).
   * Subscribers see it tagged `from` this session's authenticated identity, which the hub sets.
   * Waits while a `lag: "wait"` subscriber is full, up to the hub's publish timeout
   * (`PublishTimeoutError`).
   */
  publish(channel: string, data: unknown, options?: HubPublishOptions): Promise<Published>;
  /**
   * Starts a byte-stream broadcast on `channel` (publishes `data` with a stream, see
   * {@link HubPublishOptions.stream}): resolves once published, with the end to write into.
   * Every subscriber at that moment gets `{from, data, seq, time, stream}` with its own copy.
   */
  broadcast(channel: string, data?: unknown): Promise<Broadcast>;
  /**
   * Subscribes to `channel`: its kept history first (oldest first), then live messages, as an
   * async iterable of `PubSubMessage` (and `Lagged` notices under `lag: "drop-oldest"`).
   */
  subscribe(channel: string, options?: HubSubscribeOptions): HubSubscription;
  /** The hub's pub/sub channels this session may subscribe to: subscribers, history, rate. */
  channels(): Promise<ChannelInfo[]>;
  /** Closes the session: its registrations, pending calls, watches and attachments. */
  close(): Promise<void>;
}
