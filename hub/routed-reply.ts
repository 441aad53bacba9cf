import type { AnswerTarget, Channel } from "../model/channel.js";
import type { Handler } from "./types.js";

/** Marks a handler that passes a call's data on unread (see `routesEncoded`). */
const ROUTES_ENCODED: unique symbol = Symbol("beamhub.routesEncoded");

/**
 * Marks `handler` as one that only routes the call to another session: the hub may give it
 * the call's data as the bytes it came in (`CborKept`) instead of decoding them. Every other
 * handler — in-process code, middleware's chain — gets decoded data (`Hub.invoke`).
 */
export function routesEncoded<T extends Handler>(handler: T): T {
  return Object.assign(handler, { [ROUTES_ENCODED]: true });
}

/** Whether `handler` was marked by `routesEncoded`. */
export function isRouting(handler: Handler): boolean {
  return (handler as { [ROUTES_ENCODED]?: boolean })[ROUTES_ENCODED] === true;
}

type Settle = [(value: unknown) => void, (error: unknown) => void];

/**
 * The answer of a call the hub routed to a service in another session, as the call's handler
 * returns it: a thenable the service's reply (or failure) settles at once, from the frame that
 * carries it. It stands for `handler.request(...)`'s promise and the `.catch` that unregistered
 * a closed handler — two promises and two turns of the microtask queue per routed call that
 * did nothing but pass the reply along (issue 19, the hub hop).
 */
export class RoutedReply implements AnswerTarget {
  /** 0 pending, 1 answered, 2 failed. */
  #state = 0;
  #outcome: unknown;
  #first: Settle | undefined;
  #more: Settle[] | undefined;

  /**
   * `handler` is the registration's channel; `instanceGone` unregisters the instance (a
   * failure while the channel is closed means the service went away: unregistering before the
   * call hears of it lets the call fail over to another instance).
   */
  constructor(
    private readonly handler: Channel,
    private readonly instanceGone: () => unknown,
  ) {}

  answered(value: unknown): void {
    this.#settle(1, value);
  }

  failed(error: unknown): void {
    if (this.handler.isClosed) void this.instanceGone();
    this.#settle(2, error);
  }

  /** As a promise's `then` (its result is not chained: nobody here chains it). */
  then(onAnswered: (value: unknown) => void, onFailed: (error: unknown) => void): void {
    const settle: Settle = [onAnswered, onFailed];
    if (this.#state !== 0) {
      // Settled before anyone listened (the channel was closed): as a promise would, later.
      queueMicrotask(() => this.#call(settle));
    } else if (this.#first === undefined) this.#first = settle;
    else (this.#more ??= []).push(settle);
  }

  #settle(state: 1 | 2, outcome: unknown): void {
    if (this.#state !== 0) return;
    this.#state = state;
    this.#outcome = outcome;
    if (this.#first !== undefined) this.#call(this.#first);
    if (this.#more !== undefined) for (const settle of this.#more) this.#call(settle);
    this.#first = this.#more = undefined;
  }

  #call(settle: Settle): void {
    if (this.#state === 1) settle[0](this.#outcome);
    else settle[1](this.#outcome);
  }
}
