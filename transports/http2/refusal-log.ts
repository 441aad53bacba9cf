/**
 * Reports of HTTPS requests refused: 401 (not authenticated), 403 (not allowed), 409 (a
 * conflict: an Mles uid already a member of its channel) and 429/503 (over a limit: sessions,
 * event streams, members of a channel, sockets). Who (address, identity when the peer had one),
 * what (method, path) and why (the error code and the message the peer was given). Routes note
 * the why and the who on the response as they refuse ({@link noteRefusal}, {@link notePeer}); the
 * endpoint reads the notes when the response is finished, whatever route answered, so a route
 * that notes nothing is still reported (with its status's name as the reason).
 *
 * Never in a report: headers (an `Authorization` header, a cookie), the query string (a token in
 * `?token=`), a body. The reason is the message the peer itself was sent, which never holds the
 * credential it offered.
 * @module
 */
import type { Identity } from "../../model/identity.js";
import { PUBSUB_PATH } from "./paths.js";
import { RateLimitedLog } from "./rate-limited-log.js";

/** The statuses reported: see the module's comment. */
export type RefusalStatus = 401 | 403 | 409 | 429 | 503;

/** One refused request (or, `suppressed` > 0, the first after others of its kind were left out). */
export interface HttpsRefusal {
  /**
   * 401: the peer is not authenticated (no or wrong credentials); 403: it may not do this; 409:
   * it conflicts with what is there (an Mles uid already in its channel); 429 and 503: a limit
   * was reached (per peer, and for the whole hub or a channel).
   */
  readonly status: RefusalStatus;
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
   * Which face of the listener refused, when it is not beamhub's sessions and calls: `mles` (the
   * Mles face: an origin not allowed, a header whose `auth` fails, access rules, a uid already in
   * the channel, a full channel), `task-sockets` (Samply's `/v1/sockets` upgrades), `pubsub`
   * (pub/sub over plain HTTP: publish, event streams). Each face but `pubsub` (the endpoint's own
   * routes) reports through a limiter of its own.
   */
  readonly face?: "mles" | "task-sockets" | "pubsub";
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
  readonly #intervalMs: number;
  /** Per kind with refusals left out: the last of them, reported when the interval ends. */
  readonly #leftOut = new Map<string, { refusal: Omit<HttpsRefusal, "suppressed">; timer: NodeJS.Timeout }>();

  constructor(
    private readonly report: (refusal: HttpsRefusal) => void,
    intervalMs = REFUSAL_REPORT_INTERVAL,
    now?: () => number,
  ) {
    this.#limiter = new RateLimitedLog(() => undefined, intervalMs, now);
    this.#intervalMs = intervalMs;
  }

  refused(refusal: Omit<HttpsRefusal, "suppressed">): void {
    const face = refusal.face ?? (refusal.path.startsWith(PUBSUB_PATH) ? "pubsub" : undefined);
    const full = face === undefined ? refusal : { ...refusal, face };
    const kind = kindOf(full);
    const suppressed = this.#limiter.admit(kind);
    if (suppressed === undefined) {
      this.#leaveOut(kind, full);
      return;
    }
    const pending = this.#leftOut.get(kind);
    if (pending !== undefined) {
      clearTimeout(pending.timer);
      this.#leftOut.delete(kind);
    }
    this.#send({ ...full, suppressed });
  }

  /**
   * Keeps the last refusal left out of a kind and reports it when the interval ends (with the
   * count of the others): a burst then shows in full within one interval, also when no refusal
   * of its kind follows — which is what a counter of refusals (the metrics) needs to be right.
   */
  #leaveOut(kind: string, refusal: Omit<HttpsRefusal, "suppressed">): void {
    const pending = this.#leftOut.get(kind);
    if (pending !== undefined) {
      pending.refusal = refusal;
      return;
    }
    // unref: a pending summary must not keep a process alive that is otherwise done.
    const timer = setTimeout(() => {
      const last = this.#leftOut.get(kind);
      this.#leftOut.delete(kind);
      const leftOut = this.#limiter.takeLeftOut(kind);
      if (last === undefined || leftOut === 0) return;
      // The last one left out, reported now, and the others before it.
      this.#send({ ...last.refusal, suppressed: leftOut - 1 });
    }, this.#intervalMs).unref();
    this.#leftOut.set(kind, { refusal, timer });
  }

  #send(refusal: HttpsRefusal): void {
    try {
      this.report(refusal);
    } catch {
      // A failing log must not fail the server's response handling.
    }
  }
}

/** A refusal's kind for the limiter: its status, face and code, from a small fixed set. */
function kindOf(refusal: Omit<HttpsRefusal, "suppressed">): string {
  // Codes are beamhub's own (upper-case words); anything else shares one kind.
  const code = refusal.code !== undefined && /^E[A-Z_]{1,40}$/.test(refusal.code) ? refusal.code : "";
  return `${refusal.status} ${refusal.face ?? ""} ${code}`;
}

/** Whether `status` is one {@link RefusalReporter} reports. */
export function isReportedRefusal(status: number): status is RefusalStatus {
  return status === 401 || status === 403 || status === 409 || status === 429 || status === 503;
}
