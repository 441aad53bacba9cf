import { DEFAULT_CONFIG } from "../../wire/config.js";
import type { Codec } from "../../codecs/index.js";
import type { Identity } from "../../model/identity.js";
import type { ConnectionOptions } from "../../wire/connection.js";
import type { HttpsRefusal } from "./refusal-log.js";

/** What an `authenticate` function learns about the peer besides its token. */
export interface PeerInfo {
  remoteAddress: string | undefined;
  /** `"http2"`, `"websocket"` or `"http"` (the curl mapping). */
  transport: "http2" | "websocket" | "http";
}

/**
 * Checks a bearer token (an API key, a JWT, ...). Returns the peer's identity, or `undefined`
 * to refuse it. The identity's `via` defaults to `"token"`.
 */
export type Authenticate = (
  token: string,
  peer: PeerInfo,
) =>
  | (Omit<Identity, "via"> & { via?: string })
  | undefined
  | Promise<(Omit<Identity, "via"> & { via?: string }) | undefined>;

/** Session limits passed to every `WireConnection` (frame size, windows, channels, streams). */
export type SessionLimits = Omit<ConnectionOptions, "role" | "codecs" | "descriptors">;

/**
 * How the HTTPS endpoint admits peers (HTTP/2 sessions, WebSocket sessions and plain HTTP
 * requests): who they are, how many, how fast, from where. What is served to them is not its
 * business; `attachHttpsSessions`/`listenHttpsSessions` are given that (acceptor.ts).
 */
export interface EndpointOptions {
  /**
   * Checks bearer tokens (`authorization: Bearer <token>`; on the WebSocket path also the
   * `access_token` query parameter or a `beamhub.token.<base64url>` subprotocol, and on `GET` of
   * a pub/sub event stream the `access_token` query parameter, for `EventSource`).
   */
  authenticate?: Authenticate;
  /**
   * Refuse peers that present neither a verified client certificate nor an accepted token
   * (HTTP 401). Default false: such peers get sessions without an identity.
   */
  requireAuth?: boolean;
  /** Session limits: `maxFrameSize` (largest message), `maxStreams`, `maxChannels`, ... */
  limits?: SessionLimits;
  /** At most this many sessions at once (default 10 000); more get HTTP 503. */
  maxSessions?: number;
  /**
   * At most this many sessions per identity, or per remote address for peers without one
   * (default 256); more get HTTP 429.
   */
  maxSessionsPerIdentity?: number;
  /**
   * A connection must finish its TLS handshake, and a session its HELLO exchange, each within
   * this many ms, or it is refused (slow-loris defence; default 10 000). See also
   * `establishTimeout`.
   */
  handshakeTimeout?: number;
  /**
   * A TCP connection must be established within this many ms of being accepted — TLS done and
   * then a session's HELLO exchanged, or a complete request (END_STREAM) on a beamhub route,
   * or any request on the server's own routes — or its socket is destroyed, whatever state
   * TLS or HTTP/2 are in: the defence against connections `node:http2` never ends (a request
   * left open, then a protocol error). Default twice `handshakeTimeout` (20 000), so a session
   * that never says HELLO is first told why (GOAWAY). 0 disables it.
   */
  establishTimeout?: number;
  /**
   * At most this many TCP connections at once (default 4 096); more are closed at accept,
   * before TLS, with a log line.
   */
  maxConnections?: number;
  /**
   * At most this many TCP connections at once from one address (default 64); more are closed
   * at accept with a log line. Trusted proxies (`trustedProxies`) are exempt.
   */
  maxConnectionsPerAddress?: number;
  /**
   * Reverse proxies whose `X-Forwarded-For` is believed: addresses or CIDR ranges
   * (`10.0.0.5`, `10.0.0.0/8`, `::1`). A request from one of them is taken to come from the
   * right-most forwarded address that is not itself a trusted proxy — for the per-address
   * session limit and the `remoteAddress` an `authenticate` function sees. From any other
   * address the header is ignored. Default: none.
   */
  trustedProxies?: readonly string[];
  /**
   * Where the server reports what an operator should know: connections refused at a cap or
   * dropped by the deadline (rate-limited: one line per kind per 10 s, with a count of those
   * left out). Default `console.warn`.
   */
  log?: (line: string) => void;
  /**
   * Told of requests refused with 401 or 403 — plain requests on any route of the server,
   * session requests and WebSocket upgrades — with who, what and why (never a header, a query
   * or a credential): at most one per status and error code per 10 s, with the count of those
   * left out (refusal-log.ts). Default: none.
   */
  onRefused?: (refusal: HttpsRefusal) => void;
  /**
   * Keep-alive of sessions (ms, default 2000): a session quiet for this long is sent a PING;
   * one whose peer sent nothing for twice this long is closed, so a frozen or vanished client
   * is detected within 2.25x this (PROTOCOL.md, "Keep-alive"). 0 disables it.
   */
  keepAlive?: number;
  /**
   * An HTTP connection with no traffic for this many ms is closed (default 120 000). A live
   * session is never idle: its keep-alive PINGs count as traffic.
   */
  idleTimeout?: number;
  /** Largest WebSocket message the server sends (default 1 MiB); it accepts up to `maxFrameSize` + 1 MiB. */
  maxWebSocketMessage?: number;
  /**
   * Web origins (`https://app.example.com`, or `*` for any) whose pages may use the hub from a
   * browser: the plain HTTP mapping answers their CORS preflights and adds
   * `Access-Control-Allow-Origin`, and their WebSocket upgrades and session requests are
   * accepted. Requests that carry any other `Origin` get 403 `EORIGIN`, except the hub's own
   * (`https://` + the request's `Host`). Requests without `Origin` (not from a browser) are not
   * affected. Default: none.
   */
  allowOrigins?: readonly string[];
  /** Codecs offered to sessions (default CBOR, then JSON). */
  codecs?: readonly Codec[];
}

/** The defaults of `EndpointOptions`. */
export const ENDPOINT_DEFAULTS: {
  readonly requireAuth: boolean;
  readonly maxSessions: number;
  readonly maxSessionsPerIdentity: number;
  readonly handshakeTimeout: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerAddress: number;
  readonly keepAlive: number;
  readonly idleTimeout: number;
  readonly maxWebSocketMessage: number;
  readonly maxFrameSize: number;
} = {
  requireAuth: false,
  maxSessions: 10_000,
  maxSessionsPerIdentity: 256,
  handshakeTimeout: 10_000,
  maxConnections: 4096,
  maxConnectionsPerAddress: 64,
  keepAlive: 2000,
  idleTimeout: 120_000,
  maxWebSocketMessage: 1024 * 1024,
  maxFrameSize: DEFAULT_CONFIG.maxFrameSize,
};
