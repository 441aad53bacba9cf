import { Attachable } from "../codecs/reference.js";
import {
  adoptAttachments,
  closeAttachments,
  countClosed,
  countOpen,
  releaseDescriptors,
} from "./attachments.js";
import { deadlines, type Deadline } from "./deadlines.js";
import { BeamhubError, CallAbortedError, CallTimeoutError, ClosedError, ServiceError } from "./errors.js";
import { Cancellation, NEVER_CANCELLED, type Cancelable } from "./cancellation.js";
import { Link, LinkedList } from "./linked-list.js";
import { Queue } from "./queue.js";
import { Owners, Scope, type Ownable } from "./scope.js";

/**
 * Where the answer to a request goes; settling it more than once has no effect. Its
 * `cancellation`, when present, tells the answering side that the requester stopped waiting.
 */
export interface ReplySink {
  resolve(data: unknown): void;
  reject(error: unknown): void;
  readonly cancellation?: Cancelable;
  /** Free for the link's own bookkeeping (a transport keeps its request id here). */
  linkId?: number;
  /**
   * @internal The requester passes the reply on unread (a hub routing a call): a transport may
   * hand it over as the bytes it came in (see `ChannelRequestOptions.keepEncoded`).
   */
  readonly keepEncoded?: boolean;
}

/**
 * @internal Where the answer to `Channel.requestTo` goes instead of a promise: the hub routing a
 * call settles the call from here, without a promise and its turns in between.
 */
export interface AnswerTarget {
  answered(value: unknown): void;
  failed(error: unknown): void;
}

/**
 * The far side of a channel end: what this end sends goes through it. In one process it is the
 * other end of the pair; over a transport it is the session that carries the frames.
 */
export interface ChannelLink {
  /** Delivers an event; returns a promise while the far side is full (backpressure). */
  event(data: unknown): Promise<void> | undefined;
  /** Delivers a request; its answer settles `sink`. */
  request(data: unknown, sink: ReplySink): void;
  /** The requester stopped waiting for `sink` (timeout, cancel): tell the far side. */
  cancel?(sink: ReplySink): void;
  /** Tells the far side the channel closed. */
  close(reason: unknown): void;
}

/** What a channel request handler gets besides the data. */
export interface ChannelRequestContext extends Cancelable {
  /** The channel end the request arrived on (to send events or further requests back). */
  readonly channel: Channel;
  /**
   * Aborted when the requester stops waiting; pass it on to whatever the handler waits for.
   * (`onCancel` is the cheaper form: no AbortSignal is created unless `signal` is read.)
   */
  readonly signal: AbortSignal;
}

/** Serves requests that arrive on a channel; the return value is the reply. */
export type ChannelHandler = (data: unknown, context: ChannelRequestContext) => unknown;

/** Options of `Channel.request`. */
export interface ChannelRequestOptions {
  /** Milliseconds before the request fails with `CallTimeoutError`; 0 or absent: no limit. */
  timeout?: number;
  signal?: AbortSignal;
  /**
   * Cancels the request when this cancels — the cheap way to pass on a handler's own
   * cancellation (`context`) without creating AbortSignals.
   */
  cancelWith?: Cancelable;
  /**
   * @internal The reply is passed on unread: a transport may hand it over as the bytes it came
   * in (`Codec.decodeKeeping`), for a hub that routes a call between two sessions.
   */
  keepEncoded?: boolean;
  /**
   * @internal What the request's promise rejects with instead of `error` (given the request's
   * data): a remote hub client names the request it lost with its connection. One function for
   * all requests, where a `.catch` per request cost a closure, a promise and a microtask turn.
   */
  failure?: (error: unknown, data: unknown) => unknown;
}

/** `Channel.request` without options: shared, not allocated per request. */
const NO_REQUEST_OPTIONS: ChannelRequestOptions = Object.freeze({});

/** Options of `Channel.pair`. */
export interface ChannelOptions {
  /** Events queued at a receiver before `send` waits for it to catch up (default 1024). */
  highWaterMark?: number;
}

const RESOLVED = Promise.resolve();
/**
 * What {@link Channel.send} returns when the event left at once (no backpressure): a sender
 * that sends many in a row compares against it instead of awaiting each one.
 * @internal
 */
export const SENT_AT_ONCE: Promise<void> = RESOLVED;
const DEFAULT_HIGH_WATER_MARK = 1024;

/**
 * An event or request that arrived on a channel. Requests must be answered with `reply` or
 * `fail` (or left to a `handle` function, which answers for you).
 */
export class ChannelMessage<T = unknown> {
  /** True when the sender waits for a reply. */
  readonly isRequest: boolean;
  #request: IncomingRequest | undefined;

  constructor(
    readonly data: T,
    request: IncomingRequest | undefined,
  ) {
    this.isRequest = request !== undefined;
    this.#request = request;
  }

  /** Answers a request. Throws if this is an event, was already answered, or the channel closed. */
  reply(data?: unknown): void {
    const request = this.#answer();
    releaseDescriptors(this.data); // a descriptor the answerer kept was take()n
    request.resolve(data);
  }

  /** Answers a request with an error; the requester gets a `ServiceError`. */
  fail(error: unknown): void {
    const request = this.#answer();
    releaseDescriptors(this.data);
    request.reject(asServiceError(error));
  }

  /** Aborted when the requester stops waiting (undefined for events). */
  get signal(): AbortSignal | undefined {
    return this.#request?.signal;
  }

  /** @internal Takes the request away (it is answered elsewhere). */
  takeRequest(): IncomingRequest | undefined {
    const request = this.#request;
    this.#request = undefined;
    return request;
  }

  #answer(): IncomingRequest {
    const request = this.takeRequest();
    if (request === undefined) {
      throw new ClosedError(
        this.isRequest ? "this request (already answered)" : "an event (it takes no reply)",
      );
    }
    if (request.channel.isClosed) throw new ClosedError("channel");
    return request;
  }
}

/**
 * One end of a bidirectional message channel. Channels travel inside messages: put one end in
 * the data of a call, event or reply, and whoever receives it can send events and requests back
 * — and nest further channels in those — to any depth, in either direction.
 *
 * ```ts
 * const [mine, theirs] = Channel.pair();
 * await hub.call("pool.join", { jobs: theirs });  // the pool keeps `theirs`
 * for await (const job of mine) job.reply(await work(job.data));
 * ```
 */
export class Channel extends Attachable implements Ownable, AsyncIterable<ChannelMessage> {
  readonly refKind = "channel" as const;
  /**
   * @internal Sent over a session, requests arriving for this end keep the values of these
   * top-level keys as the bytes they came in where the codec can (a service reads a routed
   * call's `service` and `caller` only if its handler asks).
   */
  keepOnWire: { readonly fields?: readonly string[] } | undefined;

  readonly #link: ChannelLink;
  readonly #scope: Scope;
  readonly #owners = new Owners();
  readonly #inbox = new Queue<ChannelMessage>();
  readonly #highWaterMark: number;
  /** Requests this end sent that await an answer. */
  readonly #outgoing = new LinkedList<PendingRequest>();
  /** Requests that arrived here and are not answered yet. */
  readonly #incoming = new LinkedList<IncomingRequest>();
  #handler: ChannelHandler | undefined;
  #reader: ((result: IteratorResult<ChannelMessage>) => void) | undefined;
  #drained: (() => void)[] = [];
  #closed = false;
  #closeReason: unknown;
  #resolveClosed!: () => void;
  /** Settles when the channel closes (from either end, or with an owner). */
  readonly closed: Promise<void>;

  /**
   * Builds an end whose sends go through `link`. Applications use `Channel.pair()`; transports
   * construct ends directly with their own link.
   */
  constructor(link: ChannelLink, options: ChannelOptions & { scope?: Scope } = {}) {
    super();
    this.#link = link;
    this.#scope = options.scope ?? new Scope();
    this.#highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    countOpen();
  }

  /** Creates two connected ends: what one sends, the other receives. */
  static pair(options: ChannelOptions = {}): [Channel, Channel] {
    // Both ends share one scope: a message's attachments are adopted once, by its sender.
    const scope = new Scope();
    const ends: Channel[] = [];
    const toward = (index: number): ChannelLink => ({
      event: (data) => ends[index]!.deliverEvent(data),
      request: (data, sink) => ends[index]!.deliverRequest(data, sink),
      close: (reason) => ends[index]!.peerClosed(reason),
    });
    const a = new Channel(toward(1), { ...options, scope });
    const b = new Channel(toward(0), { ...options, scope });
    ends.push(a, b);
    return [a, b];
  }

  /** True once the channel closed. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Sends an event (no reply). Resolves at once unless the receiver is full (backpressure). */
  send(data?: unknown): Promise<void> {
    if (this.#closed) return Promise.reject(new ClosedError("channel", this.#closeReason));
    try {
      adoptAttachments(data, this.#scope);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#link.event(data) ?? RESOLVED;
  }

  /** Sends a request and resolves to the reply (or rejects with the handler's `ServiceError`). */
  request<Reply = unknown>(
    data?: unknown,
    options: ChannelRequestOptions = NO_REQUEST_OPTIONS,
  ): Promise<Reply> {
    if (this.#closed) return rejected(options, new ClosedError("channel", this.#closeReason), data);
    try {
      adoptAttachments(data, this.#scope);
    } catch (error) {
      return rejected(options, error, data);
    }
    const pending = new PendingRequest(this, options, undefined, data);
    if (pending.settled) return pending.promise! as Promise<Reply>; // the signal was already aborted
    this.#outgoing.add(pending.link);
    this.#link.request(data, pending);
    return pending.promise! as Promise<Reply>;
  }

  /**
   * @internal `request`, answered into `target` instead of a promise (the hub's routing of a
   * call: the reply settles the call at once, with no promise turns in between).
   */
  requestTo(data: unknown, options: ChannelRequestOptions, target: AnswerTarget): void {
    if (this.#closed) return target.failed(new ClosedError("channel", this.#closeReason));
    try {
      adoptAttachments(data, this.#scope);
    } catch (error) {
      return target.failed(error);
    }
    const pending = new PendingRequest(this, options, target);
    if (pending.settled) return;
    this.#outgoing.add(pending.link);
    this.#link.request(data, pending);
  }

  /**
   * Serves requests arriving on this end with `handler` (its return value is the reply, its
   * throw a `ServiceError` for the requester). Events still go to the async iterator.
   */
  handle(handler: ChannelHandler): this {
    this.#handler = handler;
    // Requests that queued before the handler was set are served now, in order.
    const waiting = this.#inbox.drain();
    for (const message of waiting) {
      const request = message.takeRequest();
      if (request) this.#serve(message.data, request);
      else this.#inbox.push(message);
    }
    return this;
  }

  /** Incoming events (and requests, unless `handle` serves them), in arrival order. */
  [Symbol.asyncIterator](): AsyncIterator<ChannelMessage> {
    return {
      next: () => this.#next(),
      return: () => {
        this.close();
        return Promise.resolve({ done: true, value: undefined });
      },
    };
  }

  /**
   * Closes the channel at both ends: pending requests reject with `ClosedError`, iterators end,
   * and every channel, stream and descriptor carried by its messages closes too.
   */
  close(reason?: unknown): void {
    if (this.#shutDown(reason)) this.#link.close(reason);
  }

  /** @internal Scopes call this when they start owning the channel. */
  addOwner(owner: Scope): void {
    this.#owners.add(owner);
  }

  // ---- inbound side, called by the link of the other end --------------------------------

  /** @internal An event arrived from the other end. */
  deliverEvent(data: unknown): Promise<void> | undefined {
    if (this.#closed) return undefined;
    this.#enqueue(new ChannelMessage(data, undefined));
    if (this.#inbox.length < this.#highWaterMark) return undefined;
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  /** @internal A request arrived from the other end. */
  deliverRequest(data: unknown, sink: ReplySink): void {
    if (this.#closed) {
      sink.reject(new ClosedError("channel", this.#closeReason));
      return;
    }
    const request = new IncomingRequest(this, sink);
    this.#incoming.add(request.link);
    if (this.#handler) this.#serve(data, request);
    else this.#enqueue(new ChannelMessage(data, request));
  }

  /** @internal The other end closed. */
  peerClosed(reason: unknown): void {
    this.#shutDown(reason);
  }

  /** @internal A request that arrived here was answered (or abandoned). */
  forgetIncoming(request: IncomingRequest): void {
    this.#incoming.remove(request.link);
  }

  /** @internal A request this end sent was settled or given up. */
  forget(pending: PendingRequest): void {
    this.#outgoing.remove(pending.link);
  }

  /** @internal A request this end sent was given up before its answer came. */
  abandoned(pending: PendingRequest): void {
    if (!this.#closed) this.#link.cancel?.(pending);
  }

  /** @internal Adopts the attachments of data sent from this end (replies included). */
  adopt(data: unknown): void {
    adoptAttachments(data, this.#scope);
  }

  // ---- internals --------------------------------------------------------------------------

  #serve(data: unknown, answer: IncomingRequest): void {
    let result: unknown;
    try {
      result = this.#handler!(data, answer);
    } catch (error) {
      releaseDescriptors(data);
      answer.reject(asServiceError(error));
      return;
    }
    if (isThenable(result)) {
      result.then(
        (value) => {
          releaseDescriptors(data);
          answer.resolve(value);
        },
        (error: unknown) => {
          releaseDescriptors(data);
          answer.reject(asServiceError(error));
        },
      );
    } else {
      releaseDescriptors(data);
      answer.resolve(result);
    }
  }

  #enqueue(message: ChannelMessage): void {
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader({ done: false, value: message });
    } else {
      this.#inbox.push(message);
    }
  }

  /**
   * @internal Takes the next message already queued here, without waiting (`undefined` when
   * none is): a reader that drains what arrived in one go pays no promise per message.
   */
  poll(): ChannelMessage | undefined {
    const message = this.#inbox.shift();
    if (message !== undefined && this.#drained.length > 0 && this.#inbox.length <= this.#highWaterMark / 2) {
      const senders = this.#drained;
      this.#drained = [];
      for (const wake of senders) wake();
    }
    return message;
  }

  #next(): Promise<IteratorResult<ChannelMessage>> {
    const message = this.poll();
    if (message !== undefined) return Promise.resolve({ done: false, value: message });
    if (this.#closed) return Promise.resolve({ done: true, value: undefined });
    if (this.#reader !== undefined) {
      return Promise.reject(new Error("a channel end has one reader at a time"));
    }
    return new Promise((resolve) => (this.#reader = resolve));
  }

  /** Closes this end's state; returns false if it was already closed. */
  #shutDown(reason: unknown): boolean {
    if (this.#closed) return false;
    this.#closed = true;
    this.#closeReason = reason;
    const closedError = new ClosedError("channel", reason);
    for (const pending of this.#outgoing.takeAll()) pending.reject(closedError);
    for (const request of this.#incoming.takeAll()) request.sink.reject(closedError);
    // Events sent before the close stay readable (the iterator ends after them); requests
    // still queued can no longer be answered and are dropped, their senders already rejected.
    for (const message of this.#inbox.drain()) {
      if (!message.isRequest) this.#inbox.push(message);
    }
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.({ done: true, value: undefined });
    for (const wake of this.#drained) wake();
    this.#drained = [];
    this.#scope.close(reason);
    this.#owners.leaveAll(this);
    countClosed();
    this.#resolveClosed();
    return true;
  }
}

/**
 * A request that arrived at a channel end, waiting for its answer: it is the handler's context
 * (channel, cancellation) and the path back to the requester.
 */
export class IncomingRequest implements ChannelRequestContext, ReplySink {
  readonly link: Link<IncomingRequest> = new Link<IncomingRequest>(this);
  #answered = false;

  constructor(
    readonly channel: Channel,
    readonly sink: ReplySink,
  ) {}

  get signal(): AbortSignal {
    return (this.sink.cancellation ?? NEVER_CANCELLED).signal;
  }

  onCancel(listener: (reason: unknown) => void): void {
    (this.sink.cancellation ?? NEVER_CANCELLED).onCancel(listener);
  }

  get cancellation(): Cancelable | undefined {
    return this.sink.cancellation;
  }

  resolve(data: unknown): void {
    if (!this.#finish()) return;
    try {
      this.channel.adopt(data);
    } catch (error) {
      this.sink.reject(error);
      return;
    }
    this.sink.resolve(data);
  }

  reject(error: unknown): void {
    if (this.#finish()) this.sink.reject(error);
  }

  #finish(): boolean {
    if (this.#answered || this.channel.isClosed) return false;
    this.#answered = true;
    this.channel.forgetIncoming(this);
    return true;
  }
}

/** A request sent on a channel, waiting for its answer. */
class PendingRequest implements ReplySink {
  /** The requester's promise (none for `requestTo`, which answers into its target). */
  readonly promise: Promise<unknown> | undefined;
  readonly link: Link<PendingRequest> = new Link<PendingRequest>(this);
  linkId: number | undefined;
  settled = false;
  readonly keepEncoded: boolean;
  #resolve!: (value: unknown) => void;
  #reject!: (error: unknown) => void;
  readonly #target: AnswerTarget | undefined;
  #deadline: Deadline | undefined;
  #signal: AbortSignal | undefined;
  #onAbort: (() => void) | undefined;
  /** The answering side's view, made only if it asks; cancelled when this requester gives up. */
  #abandoned: Cancellation | undefined;
  #rejectedWith: unknown;
  /** `ChannelRequestOptions.failure`, and the data it is given (kept only when it is set). */
  readonly #failure: ((error: unknown, data: unknown) => unknown) | undefined;
  readonly #data: unknown;

  constructor(
    private readonly channel: Channel,
    options: ChannelRequestOptions,
    target?: AnswerTarget,
    data?: unknown,
  ) {
    this.#target = target;
    this.#failure = options.failure;
    if (this.#failure !== undefined) this.#data = data;
    this.promise =
      target !== undefined
        ? undefined
        : new Promise((resolve, reject) => {
            this.#resolve = resolve;
            this.#reject = reject;
          });
    this.keepEncoded = options.keepEncoded === true;
    const { timeout, signal, cancelWith } = options;
    if (signal?.aborted) {
      this.reject(new CallAbortedError("channel", signal.reason));
      return;
    }
    if (timeout !== undefined && timeout > 0) {
      this.#deadline = deadlines.add(timeout, () =>
        this.#giveUp(CallTimeoutError.expired("channel", timeout)),
      );
    }
    if (signal !== undefined) {
      this.#signal = signal;
      this.#onAbort = () => this.#giveUp(new CallAbortedError("channel", signal.reason));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    cancelWith?.onCancel((reason) => this.#giveUp(new CallAbortedError("channel", reason)));
  }

  get cancellation(): Cancelable {
    if (this.#abandoned === undefined) {
      this.#abandoned = new Cancellation();
      if (this.settled && this.#rejectedWith !== undefined) this.#abandoned.cancel(this.#rejectedWith);
    }
    return this.#abandoned;
  }

  resolve(data: unknown): void {
    if (this.#finish()) {
      this.#abandoned?.settle();
      if (this.#target !== undefined) this.#target.answered(data);
      else this.#resolve(data);
      return;
    }
    // A reply after the requester gave up (timed out, cancelled): nobody will ever take what it
    // carries, and the channel it came on may live long (a service's handler channel lives as
    // long as its registration), so it is closed now, with the reason the request ended.
    closeAttachments(data, this.#rejectedWith ?? new ClosedError("channel"));
  }

  reject(error: unknown): void {
    if (this.#finish()) {
      this.#rejectedWith = error;
      this.#abandoned?.cancel(error);
      if (this.#target !== undefined) this.#target.failed(error);
      else this.#reject(this.#failure === undefined ? error : this.#failure(error, this.#data));
    }
  }

  /** The requester stops waiting: reject, and let the far side know. */
  #giveUp(error: unknown): void {
    if (this.settled) return;
    this.reject(error);
    this.channel.abandoned(this);
  }

  #finish(): boolean {
    if (this.settled) return false;
    this.settled = true;
    this.#deadline?.cancel();
    if (this.#onAbort) this.#signal?.removeEventListener("abort", this.#onAbort);
    this.channel.forget(this);
    return true;
  }
}

/** A request refused before it was sent: its promise, rejected as `options.failure` says. */
function rejected<Reply>(options: ChannelRequestOptions, error: unknown, data: unknown): Promise<Reply> {
  return Promise.reject(options.failure === undefined ? error : options.failure(error, data));
}

/**
 * What a failed channel handler sends back: beamhub's own errors keep their class (a "no such
 * service" stays one however many hops it travels); anything else becomes a `ServiceError`.
 */
function asServiceError(error: unknown): unknown {
  return error instanceof BeamhubError
    ? error
    : new ServiceError("channel", ServiceError.describe(error), error);
}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function"
  );
}
