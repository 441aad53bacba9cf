import type { BeamhubError } from "../../base/error.js";
import type { HttpsDialOptions } from "../../transports/http2/client-options.js";
import {
  httpsDialer,
  isPermanentDialError,
  type DialedSession,
  type HttpsTransportKind,
} from "../../transports/http2/dial-https.js";
import type { WireConnection } from "../../wire/connection.js";
import { verifyReconnectOptions, type ReconnectOptions } from "./reconnect-options.js";
import { RemoteHub, type RemoteHubOptions } from "./remote-hub.js";

/** Options of `connectHttps`: how to reach the hub, and how to reconnect. */
export interface ConnectHttpsOptions extends HttpsDialOptions {
  /**
   * Reconnect when the hub goes away (default on: `RECONNECT_DEFAULTS`), registering the
   * client's services again and re-opening its watches; `false` turns it off. Refused
   * credentials and certificate errors end the retries at once. See `RemoteHub`.
   */
  reconnect?: ReconnectOptions | boolean;
}

/** A hub reached over HTTPS: a `RemoteHub` that also tells which transport carries it. */
export class HttpsRemoteHub extends RemoteHub {
  readonly #current: () => Pick<DialedSession, "kind" | "fallbackCause">;

  constructor(
    connection: WireConnection,
    current: () => Pick<DialedSession, "kind" | "fallbackCause">,
    options?: RemoteHubOptions,
  ) {
    super(connection, options);
    this.#current = current;
  }

  /** `"http2"` or `"websocket"` (after a fallback), of the current connection. */
  get transport(): HttpsTransportKind {
    return this.#current().kind;
  }

  /** Why an "auto" client's current connection fell back to the WebSocket: the HTTP/2 attempt's error. */
  get fallbackCause(): BeamhubError | undefined {
    return this.#current().fallbackCause;
  }
}

/**
 * Connects to a hub served by `listenHttps`/`attachHub` at `url` (`https://host:port`, or
 * `wss://...` for WebSocket only; a path prefix is kept, for hubs behind a proxy). With
 * transport `"auto"` it tries HTTP/2 and falls back to the WebSocket when HTTP/2 does not get
 * through — including when its first bytes do not come within `firstByteTimeout` (2 s), as
 * behind a proxy that buffers request bodies; certificate and authentication failures are
 * reported at once (the fallback would hit them too), as `TlsError` (`ETLS_UNTRUSTED`,
 * `ETLS_EXPIRED`, ...) or `AuthenticationError`. The whole connect, fallback included, is
 * bounded by `connectTimeout` (default 10 s); past it the connect fails with
 * `ConnectTimeoutError` and an attempt still under way is dropped. The client reconnects when
 * the hub goes away later (unless `reconnect: false`), with the same bounds per attempt.
 */
export async function connectHttps(
  url: string | URL,
  options: ConnectHttpsOptions = {},
): Promise<HttpsRemoteHub> {
  const dialSession = httpsDialer(url, options);
  const reconnect = verifyReconnectOptions(options.reconnect);
  let current = await dialSession();
  const dial = async (): Promise<WireConnection> => {
    current = await dialSession();
    return current.connection;
  };
  return new HttpsRemoteHub(current.connection, () => current, {
    dial,
    reconnect,
    isPermanent: isPermanentDialError,
  });
}
