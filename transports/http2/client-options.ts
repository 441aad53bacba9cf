import type { Codec } from "../../codecs/index.js";
import type { SessionLimits } from "./options.js";

type Pem = string | Buffer;

/** How to reach a hub over HTTPS (`dialHttps`; `connectHttps` adds how to reconnect). */
export interface HttpsDialOptions extends SessionClientOptions {
  /** CA certificates (or the pinned server certificate) to trust instead of the system's. */
  ca?: Pem | Pem[];
  /** Client certificate and key for mutual TLS: the session's identity is the certificate's CN. */
  cert?: Pem;
  key?: Pem;
  /** Verify the server's certificate (default true; false only for experiments). */
  rejectUnauthorized?: boolean;
  /** TLS server name (SNI and verification) if it differs from the URL's host. */
  servername?: string;
  /**
   * A forward HTTP proxy to tunnel through (`http://user:pass@proxy:3128`, HTTP CONNECT), or
   * `false` for none. Default: `HTTPS_PROXY` / `https_proxy` / `ALL_PROXY` unless `NO_PROXY`
   * lists the hub's host, as curl does.
   */
  proxy?: string | false;
  /**
   * `"auto"` (default for `https://`): HTTP/2, falling back to WebSocket when HTTP/2 does not
   * get through (ALPN offers only HTTP/1.1, a proxy refuses it, the HTTP/2 session fails).
   * `"http2"` or `"websocket"` (default for `wss://`) use only that.
   */
  transport?: "auto" | "http2" | "websocket";
  /**
   * With transport `"auto"`: how long the HTTP/2 attempt may wait, from sending the session
   * request, for the hub's response and HELLO before falling back to the WebSocket (ms, default
   * 2000). A hub sends both within one round trip; a proxy that buffers request bodies never
   * does. Raise it for links with round trips near a second.
   */
  firstByteTimeout?: number;
  /** A bearer token (`authorization: Bearer <token>`). */
  token?: string;
}

/** The session options every client shares (`connectHttps`, and `connectBrowser` in browsers). */
export interface SessionClientOptions {
  /**
   * Bound on the whole connect in ms — TLS, the session request, the handshake, and with
   * transport `"auto"` the WebSocket fallback too (default 10 000). Past it the connect fails
   * with `ConnectTimeoutError`, which names the hub and the deadline.
   */
  connectTimeout?: number;
  /** Bound on each step of one attempt (ms, default 10 000; never more than what is left of `connectTimeout`). */
  timeout?: number;
  /**
   * Session keep-alive (ms, default 2000; 0 disables): PING after this much silence from the
   * hub, dead after twice this, so a frozen or vanished hub is detected within 2.25x this.
   */
  keepAlive?: number;
  /** Session limits (frame size, windows, channels, streams). */
  limits?: SessionLimits;
  /** Codecs to offer, most preferred first (default CBOR, then JSON). */
  codecs?: readonly Codec[];
  /** Largest WebSocket message sent (default 1 MiB). */
  maxWebSocketMessage?: number;
}

/** Defaults of {@link SessionClientOptions}. */
export const CLIENT_DEFAULTS = { connectTimeout: 10_000, timeout: 10_000, keepAlive: 2000 } as const;

/** The TLS options both client transports pass to `tls.connect`. */
export function tlsOptionsOf(url: URL, options: HttpsDialOptions): Record<string, unknown> {
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const isIp = /^[\d.]+$/.test(host) || host.includes(":");
  const tls: Record<string, unknown> = {
    host,
    port: Number(url.port || 443),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
  };
  const servername = options.servername ?? (isIp ? undefined : host);
  if (servername !== undefined) tls.servername = servername;
  if (options.ca !== undefined) tls.ca = options.ca;
  if (options.cert !== undefined) tls.cert = options.cert;
  if (options.key !== undefined) tls.key = options.key;
  return tls;
}
