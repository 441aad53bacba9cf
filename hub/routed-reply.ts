import type { Channel } from "../model/channel.js";
import { ForwardedAnswer } from "../model/forwarded-answer.js";
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

/**
 * The answer of a call the hub routed to a service in another session, as the call's handler
 * returns it (see `ForwardedAnswer`): it replaces `handler.request(...)`'s promise and the
 * `.catch` that unregistered a closed handler — two promises and two microtask turns per routed
 * call that did nothing but pass the reply along.
 */
export class RoutedReply extends ForwardedAnswer {
  /**
   * `handler` is the registration's channel; `instanceGone` unregisters the instance (a
   * failure while the channel is closed means the service went away: unregistering before the
   * call hears of it lets the call fail over to another instance).
   */
  constructor(
    private readonly handler: Channel,
    private readonly instanceGone: () => unknown,
  ) {
    super();
  }

  override failed(error: unknown): void {
    if (this.handler.isClosed) void this.instanceGone();
    super.failed(error);
  }
}
