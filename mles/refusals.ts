/**
 * The Mles face's refusals as `HttpsRefusal` reports (the shape `serve` logs as `https.refused`),
 * rate-limited per kind: a page from an origin not allowed, a header whose `auth` fails, a member
 * the access rules keep out, a uid already a member of its channel, a full channel, pub/sub at
 * its channel limit. Who (address, and the `mles:<uid>` identity once a key vouched for
 * it), what (method, path without its query) and why (the message the client was sent) — never
 * the header's `auth`, the key, the query or a header.
 * @module
 */
import type { IncomingMessage } from "node:http";
import { RefusalReporter, type HttpsRefusal, type RefusalStatus } from "../transports/http2/refusal-log.js";
import type { MlesError } from "./errors.js";

/** Longest path put in a report: a client chooses it, and a log line should stay a line. */
const MAX_PATH = 200;

/** The HTTP status each member refusal is reported as (an Mles client only sees a close code). */
const MEMBER_STATUS: Readonly<Record<string, RefusalStatus>> = {
  EMLES_AUTH: 401,
  EMLES_FORBIDDEN: 403,
  EMLES_DUPLICATE: 409,
  EMLES_FULL: 503,
  ELIMIT: 503,
};

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
   * A member refused after its header: `EMLES_AUTH` (401: it proved nothing), `EMLES_FORBIDDEN`
   * (403), `EMLES_DUPLICATE` (409: its uid is already a member of the channel), `EMLES_FULL` and
   * `ELIMIT` (503: the channel, or pub/sub, at its limit). As `identity` when a key vouched for
   * its uid.
   */
  member(request: IncomingMessage, error: MlesError, identity: string | undefined): void {
    const status = MEMBER_STATUS[error.code] ?? 403;
    this.#report(request, status, error.code, error.message, status === 401 ? undefined : identity);
  }

  #report(
    request: IncomingMessage,
    status: RefusalStatus,
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
