import { DEFAULT_CODECS } from "../wire/config.js";
import { InvalidArgumentError } from "../model/errors.js";
import { withDeadline } from "../transports/http2/deadline.js";
import { ConnectError } from "../transports/http2/errors.js";
import { CLIENT_DEFAULTS, type SessionClientOptions } from "../transports/http2/client-options.js";
import { TOKEN_PROTOCOL_PREFIX, WEBSOCKET_PATH, WEBSOCKET_PROTOCOL } from "../transports/http2/paths.js";
import { HTTP2_TUNING } from "../transports/http2/tuning.js";
import { verifyKeepAlive } from "../wire/keep-alive.js";
import { handshakeWithin, openSession } from "../wire/open-session.js";
import { RemoteHub } from "../hub/remote/remote-hub.js";
import {
  browserWebSocketTransport,
  CONNECTING,
  DEFAULT_WS_MESSAGE_SIZE,
  type WebSocketConstructor,
  type WebSocketLike,
} from "./websocket-transport.js";

/** Options of `connectBrowser`. */
export interface ConnectBrowserOptions extends SessionClientOptions {
  /**
   * A bearer token. Browsers cannot set headers on a WebSocket, so it travels as a
   * `beamhub.token.<base64url>` subprotocol (not in the URL, which servers and proxies log).
   */
  token?: string;
  /** The WebSocket class (default the global one). */
  WebSocket?: WebSocketConstructor;
}

/** The defaults of `timeout` and `keepAlive`: those of every client. */
export const BROWSER_DEFAULTS = CLIENT_DEFAULTS;

/** A hub reached from a browser over the WebSocket fallback. */
export class BrowserRemoteHub extends RemoteHub {
  /** Always `"websocket"` (browsers cannot open raw HTTP/2 session streams). */
  readonly transport = "websocket" as const;
}

/**
 * Connects to a hub served by `listenHttps`/`attachHub` from a browser: a WebSocket to
 * `<url>/beamhub/v1/ws` with subprotocol `beamhub.v1`, whose binary messages carry the
 * PROTOCOL.md frames. `url` is `wss://host:port` (or `https://`; `ws://`/`http://` for a hub
 * behind a TLS-terminating proxy on a trusted network); a path prefix is kept. The result has
 * the same API as any hub: `list`, `call`, `register`, `watch`, channels and byte streams.
 *
 * Browsers hide why a WebSocket failed to open (an untrusted certificate, a 401, a 429 all
 * surface as close code 1006), so a failed connect is a `ConnectError` that says so.
 */
export async function connectBrowser(
  url: string | URL,
  options: ConnectBrowserOptions = {},
): Promise<BrowserRemoteHub> {
  const target = webSocketUrl(url);
  verifyKeepAlive(options.keepAlive ?? BROWSER_DEFAULTS.keepAlive);
  // Each wait gets `timeout`, and both together at most `connectTimeout`.
  const budgetEnd = Date.now() + (options.connectTimeout ?? BROWSER_DEFAULTS.connectTimeout);
  const left = (): number =>
    Math.max(1, Math.min(options.timeout ?? BROWSER_DEFAULTS.timeout, budgetEnd - Date.now()));
  const timeout = left();
  const Constructor = options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
  if (Constructor === undefined) throw new InvalidArgumentError("no WebSocket class in this environment");
  const protocols = [WEBSOCKET_PROTOCOL];
  if (options.token !== undefined) protocols.push(`${TOKEN_PROTOCOL_PREFIX}${base64url(options.token)}`);
  const origin = `${target.protocol}//${target.host}`;

  const socket = new Constructor(target.href, protocols);
  const transport = browserWebSocketTransport(socket, options.maxWebSocketMessage ?? DEFAULT_WS_MESSAGE_SIZE);
  try {
    await withDeadline<void>(
      timeout,
      () => new ConnectError(`no WebSocket to ${origin} within ${timeout} ms`),
      (resolve, reject) => {
        socket.addEventListener("open", () => resolve());
        socket.addEventListener("close", (event) =>
          reject(
            new ConnectError(
              `the WebSocket to ${origin} closed before opening (code ${event.code}); browsers do not say why: an untrusted certificate, a refused token (401) or too many sessions (429) look alike`,
            ),
          ),
        );
      },
    );
  } catch (error) {
    abandon(socket);
    throw error;
  }
  if (socket.protocol !== WEBSOCKET_PROTOCOL) {
    abandon(socket);
    throw new ConnectError(`${origin} did not accept the WebSocket subprotocol ${WEBSOCKET_PROTOCOL}`);
  }

  const session = openSession(transport, {
    streamWindow: HTTP2_TUNING.sessionStreamWindow,
    ...options.limits,
    role: "client",
    codecs: options.codecs ?? DEFAULT_CODECS,
    keepAlive: options.keepAlive ?? BROWSER_DEFAULTS.keepAlive,
  });
  const handshakeTimeout = left();
  await handshakeWithin(
    session,
    handshakeTimeout,
    () => new ConnectError(`${origin} did not complete the session handshake within ${handshakeTimeout} ms`),
  );
  return new BrowserRemoteHub(session.connection);
}

/** `wss://host:port/prefix` → `wss://host:port/prefix/beamhub/v1/ws` (https → wss, http → ws). */
export function webSocketUrl(url: string | URL): URL {
  const base = (globalThis as { location?: { href: string } }).location?.href;
  const target = new URL(url, base);
  const schemes: Record<string, string> = { "wss:": "wss:", "https:": "wss:", "ws:": "ws:", "http:": "ws:" };
  const scheme = schemes[target.protocol];
  if (scheme === undefined) {
    throw new InvalidArgumentError(`connectBrowser needs a wss:// or https:// URL, got ${target.protocol}//`);
  }
  const prefix = target.pathname.replace(/\/+$/, "");
  return new URL(`${scheme}//${target.host}${prefix}${WEBSOCKET_PATH}`);
}

function abandon(socket: WebSocketLike): void {
  try {
    if (socket.readyState <= CONNECTING + 1) socket.close();
  } catch {
    // already closing
  }
}

function base64url(text: string): string {
  const bytes = new TextEncoder().encode(text);
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}
