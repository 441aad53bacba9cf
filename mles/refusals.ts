/**
 * The Mles face's refusals as `HttpsRefusal` reports (the shape `serve` logs as `https.refused`),
 * rate-limited per kind: a page from an origin not allowed, a header whose `auth` fails, a member
 * the access rules keep out. Who (address, and the `mles:<uid>` identity once a key vouched for
 * it), what (method, path without its query) and why (the message the client was sent) — never
 * the header's `auth`, the key, the query or a header.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { RefusalReporter, type HttpsRefusal } from "../transports/http2/refusal-log.js";
import type { MlesError } from "./errors.js";

/** Longest path put in a report: a client chooses it, and a log line should stay a line. */
const MAX_PATH = 200;

/** Reports the refusals of one face (a no-op without `onRefused`). */
export class MlesRefusals {
  readonly #reporter: RefusalReporter | undefined;

  constructor(onRefused: ((refusal: HttpsRefusal) => void) | undefined) {
    this.#reporter = onRefused === undefined ? undefined : new RefusalReporter(onRefused);
  }

  /** An upgrade refused with 403 before it became a WebSocket (its origin is not allowed). */
  origin(request: IncomingMessage, reason: string): void {
    this.#report(request, 403, "EORIGIN", reason, undefined);
  }

  /**
   * A member refused after its header: `EMLES_AUTH` (401: it proved nothing) or
   * `EMLES_FORBIDDEN` (403, as `identity` when a key vouched for its uid).
   */
  member(request: IncomingMessage, error: MlesError, identity: string | undefined): void {
    const status = error.code === "EMLES_AUTH" ? 401 : 403;
    this.#report(request, status, error.code, error.message, status === 403 ? identity : undefined);
  }

  #report(
    request: IncomingMessage,
    status: 401 | 403,
    code: string,
    reason: string,
    identity: string | undefined,
  ): void {
    if (this.#reporter === undefined) return;
    const path = (request.url ?? "/").split("?")[0]!;
    const address = request.socket.remoteAddress;
    this.#reporter.refused({
      status,
      code,
      reason,
      method: request.method ?? "GET",
      path: path.length > MAX_PATH ? `${path.slice(0, MAX_PATH)}...` : path,
      ...(address === undefined ? {} : { address }),
      ...(identity === undefined ? {} : { identity }),
      transport: "websocket",
      face: "mles",
    });
  }
}
