import { context as otelContext, ROOT_CONTEXT, trace, type Context, type Span } from "@opentelemetry/api";
import { adoptAttachments, closeAttachments, releaseDescriptors } from "../model/attachments.js";
import { isThenable } from "../model/channel.js";
import { Cancellation, type Cancelable } from "../model/cancellation.js";
import { deadlines, type Deadline, type Expirable } from "../model/deadlines.js";
import {
  CallAbortedError,
  CallTimeoutError,
  ClosedError,
  ServiceError,
  ServiceGoneError,
  ServiceNotFoundError,
} from "../model/errors.js";
import { Link } from "../model/linked-list.js";
import { isValidName, validateName } from "./names.js";
import { endCallSpan, startCallSpan, tracingEnabled } from "./tracing/spans.js";
import type { Instance, InstanceCall, Registry } from "./registry.js";
import type { Closable, Scope } from "../model/scope.js";
import type { CallOutcome, CallStats } from "./stats/call-stats.js";
import type { HubCounters } from "./stats/hub-counters.js";
import type { CallOptions, CallerInfo, MiddlewareContext, ServiceInfo } from "./types.js";

/** What a call needs from the hub that dispatches it. */
export interface CallHost {
  readonly registry: Registry;
  /** Runs middleware and the handler for `call` (its `instance` is set). */
  invoke(call: PendingCall): unknown;
  /** How many other instances a call may move to when its instance goes away. */
  readonly maxFailover: number;
  /** The timeout of calls that set none. */
  readonly defaultTimeout: number;
  /** The hub's totals (undefined: it keeps none). */
  readonly counters?: HubCounters | undefined;
  /** A timed call that took at least this many ms is reported to `slowCall` (Infinity: none). */
  readonly slowCallMs?: number;
  /** A call took `ms` (at least `slowCallMs`) on `call.instance`, and ended so. */
  slowCall?(call: PendingCall, ms: number, outcome: CallOutcome): void;
}

/** What a call needs from the session that made it. */
export interface CallOwner {
  readonly scope: Scope;
  readonly caller: CallerInfo;
  /** The call went asynchronous; `forgetCall` follows when it settles. */
  trackCall(call: PendingCall): void;
  /** Called once when an asynchronous call settles. */
  forgetCall(call: PendingCall): void;
}

const NO_OPTIONS: CallOptions = {};

/** How a call that failed before its handler answered ended, for the counts. */
function outcomeOf(error: unknown): CallOutcome {
  if (error instanceof CallTimeoutError) return "timeout";
  if (error instanceof ServiceGoneError) return "gone";
  if (error instanceof CallAbortedError || error instanceof ClosedError) return "cancelled";
  return "error";
}

/**
 * One call: it is the handler's `CallContext` (and middleware's), and it owns the caller's
 * promise, the deadline, cancellation, and failover to another instance.
 *
 * A call to a synchronous handler completes before anything else can happen, so it needs no
 * timer, no cancellation listener and no bookkeeping: those are set up only when the handler
 * returns a promise (or the call must wait for a service). That keeps the common in-process
 * call to a function close to the cost of the function call itself.
 */
export class PendingCall implements MiddlewareContext, InstanceCall, Closable, Expirable {
  data: unknown;
  service!: ServiceInfo;
  readonly caller: CallerInfo;
  /** The instance serving the current attempt. */
  instance: Instance | undefined;
  /**
   * The OpenTelemetry context the handler runs in: the hub's dispatch span when tracing is on,
   * else the caller's trace context as received (passed on to a remote handler), else undefined.
   */
  traceContext: Context | undefined;
  /**
   * @internal The caller's transport sends the reply on unread (a CBOR session): a handler that
   * routes the call to another session may hand back the reply as the bytes it came in. The hub
   * clears it where middleware runs (middleware reads replies).
   */
  forwardsReply = false;

  readonly #host: CallHost;
  readonly #owner: CallOwner;
  readonly #name: string;
  readonly #options: CallOptions;
  readonly #cancelWith: Cancelable | undefined;
  readonly #timeout: number;
  #deadline: number | undefined;
  /** The caller's promise and its settle functions, made when the call goes asynchronous. */
  #promise: Promise<unknown> | undefined;
  #resolve: ((value: unknown) => void) | undefined;
  #reject: ((error: unknown) => void) | undefined;
  #settled = false;
  #timer: Deadline | undefined;
  #onAbort: (() => void) | undefined;
  #cancellation: Cancellation | undefined;
  #tried: Set<Instance> | undefined;
  #carriesAttachments = false;
  /** Whether a handler got the request: until then, its attachments are the hub's to close. */
  #delivered = false;
  #stopWaiting: (() => void) | undefined;
  #waitUntil: number | undefined;
  /** The request data as the caller sent it (middleware may replace `data`). */
  #request: unknown;
  // Made only when the call goes asynchronous: a call to a synchronous handler joins no list.
  #instanceLink: Link<InstanceCall> | undefined;
  #ownerLink: Link<PendingCall> | undefined;
  /** The caller's trace context as a transport received it (undefined: the active context). */
  readonly #traceParent: Context | undefined;
  /** The dispatch span, while the call runs with tracing on. */
  #span: Span | undefined;
  /** The serving instance's counts (until this attempt's outcome is counted) and its start. */
  #stats: CallStats | undefined;
  #started = 0;

  /**
   * `cancelWith`, when given, replaces `options.cancelWith` (so that a transport passes its
   * request's cancellation without copying the options). `traceParent`, when given, is the
   * trace context a transport received with the call (`ROOT_CONTEXT` when it received none):
   * in-process calls leave it out and continue the active context.
   */
  constructor(
    host: CallHost,
    owner: CallOwner,
    name: string,
    data: unknown,
    options: CallOptions = NO_OPTIONS,
    cancelWith?: Cancelable,
    traceParent?: Context,
  ) {
    this.#host = host;
    this.#owner = owner;
    this.#name = name;
    this.#options = options;
    this.#cancelWith = cancelWith ?? options.cancelWith;
    this.#timeout = options.timeout ?? host.defaultTimeout;
    this.data = data;
    this.caller = owner.caller;
    this.#traceParent = traceParent;
  }

  /** Membership in the serving instance's list of pending calls. */
  get instanceLink(): Link<InstanceCall> {
    return (this.#instanceLink ??= new Link<InstanceCall>(this));
  }

  /** Membership in the calling session's list of pending calls. */
  get ownerLink(): Link<PendingCall> {
    return (this.#ownerLink ??= new Link<PendingCall>(this));
  }

  /** When the caller stops waiting (ms since the epoch), or undefined without a timeout. */
  get deadline(): number | undefined {
    if (this.#deadline === undefined && this.#timeout > 0) this.#deadline = Date.now() + this.#timeout;
    return this.#deadline;
  }

  /** Aborted when the call ends without a reply from its handler (timeout, cancel, failover). */
  get signal(): AbortSignal {
    return (this.#cancellation ??= new Cancellation()).signal;
  }

  onCancel(listener: (reason: unknown) => void): void {
    (this.#cancellation ??= new Cancellation()).onCancel(listener);
  }

  /**
   * Dispatches the call; resolves to the reply. With `raw`, a reply that a synchronous handler
   * produced is returned as is (and its error thrown) instead of wrapped in a promise — for
   * transports, which then answer without a microtask turn.
   */
  start(raw = false): unknown {
    this.#request = this.data;
    const signal = this.#options.signal;
    if (signal?.aborted) {
      this.#settled = true;
      const error = new CallAbortedError(this.#name, signal.reason);
      closeAttachments(this.data, error);
      return Promise.reject(error);
    }
    try {
      // A call whose data carries attachments is not retried elsewhere: the first instance
      // may already have used them (read a stream, taken a descriptor).
      this.#carriesAttachments = adoptAttachments(this.data, this.#owner.scope) > 0;
    } catch (error) {
      this.#settled = true;
      closeAttachments(this.data, error);
      return Promise.reject(error);
    }
    if (this.#traceParent !== undefined || tracingEnabled()) this.#startTrace();
    const options = this.#options;
    const instance = this.#host.registry.pick(this.#name, options.labels, options.instance, undefined);
    if (instance === undefined) {
      const promise = this.#goAsync();
      this.#noInstance();
      return promise;
    }
    return this.#attempt(instance, raw);
  }

  /**
   * Opens the dispatch span (with tracing on) or keeps the caller's trace context to pass on
   * (without). With neither a provider nor a received context, this costs one check and nothing
   * else is made.
   */
  #startTrace(): void {
    const parent = this.#traceParent;
    if (parent !== undefined && !tracingEnabled()) {
      // A hub without an SDK still links the caller's trace to the service's.
      if (parent !== ROOT_CONTEXT) this.traceContext = parent;
      return;
    }
    const base = parent ?? otelContext.active();
    const span = startCallSpan("dispatch", this.#name, base, {
      "beamhub.caller.session": this.caller.sessionId,
    });
    this.#span = span;
    this.traceContext = trace.setSpan(base, span);
  }

  /** The handler runs in the dispatch span's context: its own calls become its children. */
  #invokeTraced(instance: Instance): unknown {
    this.#span?.setAttribute("beamhub.instance", instance.info.id);
    return otelContext.with(this.traceContext!, this.#host.invoke, this.#host, this);
  }

  /** Ends the dispatch span, if there is one, with the call's outcome. */
  #endTrace(error?: unknown): void {
    const span = this.#span;
    if (span === undefined) return;
    this.#span = undefined;
    if (this.#tried !== undefined) span.setAttribute("beamhub.failovers", this.#tried.size);
    endCallSpan(span, error);
  }

  /** Runs the handler on `instance`; returns the caller's promise (or, `raw`, a sync reply). */
  #attempt(instance: Instance, raw = false): unknown {
    this.instance = instance;
    this.service = instance.info;
    this.#delivered = true;
    const stats = instance.stats;
    const started = stats === undefined ? 0 : stats.started();
    this.#stats = stats;
    this.#started = started;
    let result: unknown;
    try {
      result = this.traceContext === undefined ? this.#host.invoke(this) : this.#invokeTraced(instance);
    } catch (error) {
      if (this.#promise !== undefined) {
        this.#handlerFailed(instance, error);
        return this.#promise;
      }
      this.#settled = true;
      if (stats !== undefined) this.#counted("error");
      this.#releaseRequest();
      const failure = new ServiceError(this.#name, ServiceError.describe(error), error);
      this.#endTrace(failure);
      if (raw) throw failure;
      return Promise.reject(failure);
    }
    if (!isThenable(result)) {
      if (this.#promise !== undefined) {
        this.#handlerDone(instance, result);
        return this.#promise;
      }
      // The synchronous fast path: nothing was set up, so nothing needs tearing down.
      this.#settled = true;
      if (stats !== undefined) {
        this.#stats = undefined;
        const ms = stats.succeeded(started);
        if (ms >= 0) this.#reportIfSlow(ms, "ok");
      }
      this.#releaseRequest();
      try {
        adoptAttachments(result, instance.scope, this.#owner.scope);
      } catch (error) {
        const failure = new ServiceError(this.#name, ServiceError.describe(error), error);
        this.#endTrace(failure);
        if (raw) throw failure;
        return Promise.reject(failure);
      }
      if (this.#span !== undefined) this.#endTrace();
      return raw ? result : Promise.resolve(result);
    }
    const promise = this.#goAsync();
    if (!this.#settled) {
      instance.pending.add(this.instanceLink);
      result.then(
        (value) => this.#handlerDone(instance, value),
        (error: unknown) => this.#handlerFailed(instance, error),
      );
    }
    return promise;
  }

  /** The call will settle later: set up its promise, deadline, cancellation and tracking. */
  #goAsync(): Promise<unknown> {
    if (this.#promise !== undefined) return this.#promise;
    // The settle functions go straight into the call: a `{ promise, resolve, reject }` record and
    // the executor's captured variables were ~60–100 B of the ~1.4 KB of garbage an asynchronous
    // in-process call makes (issue 19, bench/async-floor.ts).
    const promise = new Promise<unknown>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#promise = promise;
    this.#owner.trackCall(this);
    const timeout = this.#timeout;
    if (timeout > 0) {
      const left = this.#deadline === undefined ? timeout : Math.max(0, this.#deadline - Date.now());
      this.#timer = deadlines.add(left, this);
    }
    const signal = this.#options.signal;
    if (signal !== undefined) {
      this.#onAbort = () => this.#fail(new CallAbortedError(this.#name, signal.reason));
      signal.addEventListener("abort", this.#onAbort, { once: true });
    }
    this.#cancelWith?.onCancel((reason) => this.#fail(new CallAbortedError(this.#name, reason)));
    return promise;
  }

  /** The serving instance went away before replying: move to another or fail. */
  instanceGone(why: string): void {
    if (this.#settled) return;
    const gone = this.instance;
    this.#counted("gone");
    this.instance = undefined;
    this.#abortHandler(new ServiceGoneError(this.#name, why));
    if (gone === undefined || this.#carriesAttachments) {
      this.#fail(new ServiceGoneError(this.#name, why));
      return;
    }
    this.#tried ??= new Set();
    this.#tried.add(gone);
    if (this.#tried.size > this.#host.maxFailover) {
      this.#fail(new ServiceGoneError(this.#name, `${why}; gave up after ${this.#tried.size} instances`));
      return;
    }
    const next = this.#host.registry.pick(
      this.#name,
      this.#options.labels,
      this.#options.instance,
      this.#tried,
    );
    if (next === undefined) {
      this.#fail(new ServiceGoneError(this.#name, `${why}; no other instance to fail over to`));
      return;
    }
    // The next attempt's handler gets a signal of its own; the one before keeps its aborted one.
    this.#cancellation = undefined;
    void this.#attempt(next);
  }

  /** @internal The deadline passed. */
  expire(): void {
    this.#fail(CallTimeoutError.expired(this.#name, this.#timeout));
  }

  /** The caller's session closed. */
  close(reason?: unknown): void {
    this.#fail(reason instanceof ClosedError ? reason : new ClosedError("session", reason));
  }

  #handlerDone(instance: Instance, value: unknown): void {
    if (this.#settled || this.instance !== instance) return; // a stale attempt after failover
    try {
      adoptAttachments(value, instance.scope, this.#owner.scope);
    } catch (error) {
      this.#handlerFailed(instance, error);
      return;
    }
    this.#counted("ok");
    this.#finish();
    this.#endTrace();
    this.#resolve!(value);
  }

  #handlerFailed(instance: Instance, error: unknown): void {
    if (this.#settled || this.instance !== instance) return;
    this.#counted("error");
    this.#finish();
    const failure = new ServiceError(this.#name, ServiceError.describe(error), error);
    this.#endTrace(failure);
    this.#reject!(failure);
  }

  #noInstance(): void {
    const wait = this.#options.waitForService;
    if (wait === undefined || wait === false || !isValidName(this.#name)) {
      this.#fail(this.#notFound(""));
      return;
    }
    const now = Date.now();
    // The wait is bounded by its own limit and, through the call's deadline, by the timeout.
    this.#waitUntil ??= wait === true ? Number.POSITIVE_INFINITY : now + wait;
    if (now >= this.#waitUntil) {
      this.#fail(this.#notFound(` (waited ${wait} ms for it to appear)`));
      return;
    }
    let timer: Deadline | undefined;
    const cancel = this.#host.registry.waitFor(this.#name, () => {
      timer?.cancel();
      this.#stopWaiting = undefined;
      this.#retryPick(); // a registration that does not match the labels re-arms the wait
    });
    if (this.#waitUntil !== Number.POSITIVE_INFINITY) {
      timer = deadlines.add(this.#waitUntil - now, () => {
        cancel();
        this.#stopWaiting = undefined;
        this.#fail(this.#notFound(` (waited ${wait} ms for it to appear)`));
      });
    }
    this.#stopWaiting = () => {
      cancel();
      timer?.cancel();
    };
  }

  #notFound(detail: string): Error {
    try {
      validateName(this.#name);
    } catch (error) {
      return error as Error;
    }
    const { labels, instance } = this.#options;
    const constraint =
      instance !== undefined
        ? ` with instance id ${instance}`
        : labels !== undefined
          ? ` with labels ${JSON.stringify(labels)}`
          : "";
    return new ServiceNotFoundError(this.#name, constraint + detail);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    // Undeliverable (no instance, forbidden, timed out or cancelled while waiting for one): what
    // the request carried is closed with the call's error, so that nobody waits on a channel or
    // stream whose other end no handler will ever see.
    if (!this.#delivered && this.#carriesAttachments) closeAttachments(this.#request, error);
    if (this.#stats !== undefined) this.#counted(outcomeOf(error));
    else if (error instanceof ServiceNotFoundError && this.#host.counters !== undefined)
      this.#host.counters.notFound++;
    this.#finish();
    this.#endTrace(error);
    this.#abortHandler(error);
    this.#reject!(error);
  }

  /** Counts this attempt's outcome on its instance, once; reports it if it was slow. */
  #counted(outcome: CallOutcome): void {
    const stats = this.#stats;
    if (stats === undefined) return;
    this.#stats = undefined;
    const ms = outcome === "ok" ? stats.succeeded(this.#started) : stats.ended(outcome, this.#started);
    if (ms >= 0) this.#reportIfSlow(ms, outcome);
  }

  /** Tells the hub of a call that took at least its `slowCallMs`. */
  #reportIfSlow(ms: number, outcome: CallOutcome): void {
    const host = this.#host;
    if (host.slowCallMs !== undefined && ms >= host.slowCallMs) host.slowCall?.(this, ms, outcome);
  }

  /** Aborts the current attempt's signal; it stays aborted, so a handler reading it later sees so. */
  #abortHandler(reason: unknown): void {
    this.#cancellation?.cancel(reason);
  }

  /**
   * Descriptors in the request that the handler did not take are closed with the call. A
   * request that carried no attachments (the walk in `start` found none) needs no second walk.
   */
  #releaseRequest(): void {
    if (this.#request === this.data && !this.#carriesAttachments) return;
    releaseDescriptors(this.data);
    if (this.#request !== this.data) releaseDescriptors(this.#request);
  }

  #finish(): void {
    this.#settled = true;
    this.#releaseRequest();
    this.#timer?.cancel();
    if (this.#onAbort !== undefined) this.#options.signal?.removeEventListener("abort", this.#onAbort);
    this.#stopWaiting?.();
    if (this.#instanceLink !== undefined) this.instance?.pending.remove(this.#instanceLink);
    if (this.#promise !== undefined) this.#owner.forgetCall(this); // tracked when it went async
  }

  /** Looks for an instance again after waiting for one. */
  #retryPick(): void {
    if (this.#settled) return;
    const options = this.#options;
    const instance = this.#host.registry.pick(this.#name, options.labels, options.instance, this.#tried);
    if (instance === undefined) this.#noInstance();
    else void this.#attempt(instance);
  }
}
