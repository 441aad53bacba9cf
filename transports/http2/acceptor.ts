import type { Identity } from "../../model/identity.js";
import type { OpenedSession } from "../../wire/open-session.js";
import type { ApiRequest, ApiResponse } from "./http-replies.js";
import type { PeerInfo } from "./options.js";
import type { RequestTarget } from "./request-target.js";

/**
 * Who is on the other end of a session or a plain request, as the endpoint established it: the
 * identity from a verified client certificate or an accepted bearer token (`undefined` for an
 * anonymous peer), the client's address (`X-Forwarded-For`'s from a trusted proxy), and what
 * carried it.
 */
export interface HttpsPeer extends PeerInfo {
  readonly identity: Identity | undefined;
}

/**
 * Takes each new session the endpoint admitted (`POST /beamhub/v1/session` over HTTP/2, or a
 * WebSocket upgrade). The session was opened with `openSession` (keep-alive, handshake
 * deadline) and counts against the endpoint's limits until it closes; its HELLOs may still be
 * under way (`session.connection.ready` settles with them). What the session is used for is
 * the acceptor's: the hub serves itself on it. An acceptor that throws ends the session.
 */
export type HttpsAcceptor = (session: OpenedSession, peer: HttpsPeer) => void;

/**
 * Serves the plain requests under `/beamhub/v1/` that are not sessions (the hub's HTTP mapping
 * for curl). The endpoint has already answered CORS preflights and checked the origin, refused
 * requests while closing, and authenticated the peer; a request on a path the handler does not
 * serve gets 404 before authentication.
 */
export interface PlainRequestHandler {
  /**
   * Whether `path` (without the query) is one of this handler's routes: any path under
   * `/beamhub/v1/` is asked, and under `/beamhub/` (e.g. the dashboard's `/beamhub/ui`) those
   * this handler claims are beamhub's too.
   */
  serves(path: string): boolean;
  /**
   * Answers one request. A rejection (or an error thrown) is answered as a JSON error
   * (`sendError`), its status from the error's code, unless a response was already sent. A
   * handler that answers at once may return nothing: no promise is made per request then.
   */
  serve(
    request: ApiRequest,
    url: RequestTarget,
    response: ApiResponse,
    peer: HttpsPeer,
  ): Promise<void> | void;
  /**
   * The endpoint is closing: end long-lived responses (event streams) now, cleanly, rather than
   * have their connections cut under them (HTTP/1.1) or hold the close for its grace period
   * (HTTP/2). New requests are already refused with 503.
   */
  close?(): void;
}

/** What an HTTPS endpoint serves: what it does with sessions, and with plain requests. */
export interface EndpointHandlers {
  /** Each new session. */
  accept: HttpsAcceptor;
  /** Plain requests under `/beamhub/v1/` (default: none; they get 404). */
  requests?: PlainRequestHandler | undefined;
}
