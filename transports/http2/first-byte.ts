import { InvalidArgumentError } from "../../model/errors.js";
import { ConnectError } from "./errors.js";

/**
 * Default of `ConnectHttpsOptions.firstByteTimeout` (ms). A hub answers the session request and
 * sends its HELLO at once, one round trip after the request (milliseconds on a LAN, well under
 * a second across continents). A proxy that speaks HTTP/2 to clients but holds request bodies
 * until they end (nginx with `listen ... http2` and its default `proxy_request_buffering on`)
 * never forwards the endless session request at all: without this bound an "auto" client
 * would wait its whole connect timeout (10 s) before trying the WebSocket.
 */
export const FIRST_BYTE_TIMEOUT = 2000;

/** The first-byte timeout from the options, checked: a positive, finite number of ms. */
export function firstByteTimeoutOf(value: number | undefined): number {
  if (value === undefined) return FIRST_BYTE_TIMEOUT;
  if (typeof value !== "number" || !Number.isFinite(value) || value <= 0) {
    throw new InvalidArgumentError(
      `connectHttps: firstByteTimeout must be a positive number of milliseconds, got ${String(value)}`,
    );
  }
  return value;
}

/**
 * The bound on an HTTP/2 session's first bytes, from the moment its request is sent: the
 * response headers, then the hub's HELLO, must both come within `ms`. One object spans both
 * waits (they are in different modules), so the bound is on their sum.
 */
export class FirstByteDeadline {
  readonly #end: number;

  constructor(
    readonly ms: number,
    readonly origin: string,
  ) {
    this.#end = Date.now() + ms;
  }

  /** What is left of the bound (ms, at least 1 so that a timer still runs). */
  remaining(): number {
    return Math.max(1, this.#end - Date.now());
  }

  /**
   * The error of a session whose `what` did not come in time: a `ConnectError`, on which an
   * "auto" client falls back to the WebSocket.
   */
  error(what: string): ConnectError {
    return new ConnectError(
      `${this.origin} sent no ${what} within ${this.ms} ms of the HTTP/2 session request ` +
        "(a proxy that buffers request bodies? see firstByteTimeout)",
    );
  }
}
