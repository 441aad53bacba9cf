/**
 * Reports of HTTPS requests refused with 401 (not authenticated) or 403 (not allowed): who
 * (address, identity when the peer had one), what (method, path) and why (the error code and
 * the message the peer was given). Routes note the why and the who on the response as they
 * refuse ({@link noteRefusal}, {@link notePeer}); the endpoint reads the notes when the response
 * is finished, whatever route answered, so a route that notes nothing is still reported (with
 * its status's name as the reason).
 *
 * Never in a report: headers (an `Authorization` header, a cookie), the query string (a token in
 * `?token=`), a body. The reason is the message the peer itself was sent, which never holds the
 * credential it offered.
 * @module
 */
import type { Identity } from "../../model/identity.js";
import { RateLimitedLog } from "./rate-limited-log.js";

/** One refused request (or, `suppressed` > 0, the first after others of its kind were left out). */
export interface HttpsRefusal {
  /** 401: the peer is not authenticated (no or wrong credentials); 403: it may not do this. */
  readonly status: 401 | 403;
  /** beamhub's error code (`EUNAUTHENTICATED`, `EFORBIDDEN`, `EORIGIN`, ...), when the route gave one. */
  readonly code?: string;
  /** Why, as the peer was told. */
  readonly reason: string;
  readonly method: string;
  /** The path, without its query. */
  readonly path: string;
  /** The client's address (`X-Forwarded-For`'s from a trusted proxy). */
  readonly address?: string;
  /** The identity the peer authenticated as (a 403); absent for an anonymous peer. */
  readonly identity?: string;
  /**
   * `http`: a plain request; `http2`: a session request; `websocket`: a WebSocket upgrade
   * (beamhub's, or an Mles client's); `upgrade`: another upgrade (a task socket, `Upgrade: tcp`).
   */
  readonly transport: "http" | "http2" | "websocket" | "upgrade";
  /**
   * Which face of the listener refused, when it is not beamhub's own routes: `mles` (the Mles
   * face: an origin not allowed, a header whose `auth` fails, access rules), `task-sockets`
   * (Samply's `/v1/sockets` upgrades). Each face reports through a limiter of its own.
   */
  readonly face?: "mles" | "task-sockets";
  /** Refusals of the same status and code left out since the last one reported. */
  readonly suppressed: number;
}

/** What a route notes on a response it refuses. */
export interface RefusalNote {
  readonly code?: string;
  readonly reason?: string;
  readonly identity?: Identity;
}

/** How often refusals of one status and code are reported (ms), as the connection guard's lines. */
export const REFUSAL_REPORT_INTERVAL = 10_000;

const notes = new WeakMap<object, RefusalNote>();

/** Notes why `response` refuses its request (a route that answers 401 or 403 calls this). */
export function noteRefusal(response: object, note: { code?: string | undefined; reason: string }): void {
  const previous = notes.get(response);
  notes.set(response, {
    ...previous,
    ...(note.code === undefined ? {} : { code: note.code }),
    reason: note.reason,
  });
}

/** Notes who made the request `response` answers (once authenticated). */
export function notePeer(response: object, identity: Identity | undefined): void {
  if (identity === undefined) return;
  notes.set(response, { ...notes.get(response), identity });
}

/** What was noted on `response`. */
export function refusalNoteOf(response: object): RefusalNote | undefined {
  return notes.get(response);
}

/**
 * Passes refusals on to `report`, at most one per status and code per
 * {@link REFUSAL_REPORT_INTERVAL} (a peer can cause them as fast as it can send requests), with
 * the count of those left out in between. The kinds are a fixed set, so a flood from many
 * addresses costs no memory.
 */
export class RefusalReporter {
  readonly #limiter: RateLimitedLog;

  constructor(
    private readonly report: (refusal: HttpsRefusal) => void,
    intervalMs = REFUSAL_REPORT_INTERVAL,
    now?: () => number,
  ) {
    this.#limiter = new RateLimitedLog(() => undefined, intervalMs, now);
  }

  refused(refusal: Omit<HttpsRefusal, "suppressed">): void {
    // Codes are beamhub's own (upper-case words); anything else shares one kind.
    const code = refusal.code !== undefined && /^E[A-Z_]{1,40}$/.test(refusal.code) ? refusal.code : "";
    const suppressed = this.#limiter.admit(`${refusal.status} ${code}`);
    if (suppressed === undefined) return;
    try {
      this.report({ ...refusal, suppressed });
    } catch {
      // A failing log must not fail the server's response handling.
    }
  }
}

/** Whether `status` is one {@link RefusalReporter} reports. */
export function isReportedRefusal(status: number): status is 401 | 403 {
  return status === 401 || status === 403;
}
