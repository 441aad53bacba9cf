import type { Codec } from "../../codecs/index.js";
import type { Identity } from "../../hub/types.js";
import type { ConnectionOptions } from "../../wire/connection.js";

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

/** How a hub serves HTTP/2, WebSocket and plain HTTP peers (`attachHub`, `listenHttps`). */
export interface HubServerOptions {
  /**
   * Checks bearer tokens (`authorization: Bearer <token>`; on the WebSocket path also the
   * `access_token` query parameter or a `beamhub.token.<base64url>` subprotocol).
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
   * A connection must finish its HTTP request within this many ms of the TLS handshake, and a
   * session must finish its HELLO exchange within this many ms of opening, or it is dropped
   * (slow-loris defence; default 10 000). `listenHttps` also bounds the TLS handshake itself.
   */
  handshakeTimeout?: number;
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
  /** Serve the plain HTTP mapping (`/beamhub/v1/call/<name>`, `/beamhub/v1/services`; default true). */
  httpApi?: boolean;
  /** Largest request body of the plain HTTP mapping (default 1 MiB; larger gets 413). */
  maxBodySize?: number;
  /** Largest WebSocket message the server sends (default 1 MiB); it accepts up to `maxFrameSize` + 1 MiB. */
  maxWebSocketMessage?: number;
  /** Codecs offered to sessions (default CBOR, then JSON). */
  codecs?: Codec[];
}

/** The defaults of `HubServerOptions`. */
export const SERVER_DEFAULTS: {
  readonly requireAuth: boolean;
  readonly maxSessions: number;
  readonly maxSessionsPerIdentity: number;
  readonly handshakeTimeout: number;
  readonly keepAlive: number;
  readonly idleTimeout: number;
  readonly httpApi: boolean;
  readonly maxBodySize: number;
  readonly maxWebSocketMessage: number;
  readonly maxFrameSize: number;
} = {
  requireAuth: false,
  maxSessions: 10_000,
  maxSessionsPerIdentity: 256,
  handshakeTimeout: 10_000,
  keepAlive: 2000,
  idleTimeout: 120_000,
  httpApi: true,
  maxBodySize: 1024 * 1024,
  maxWebSocketMessage: 1024 * 1024,
  maxFrameSize: 16 * 1024 * 1024,
};
