import { cborCodec, jsonCodec } from "../../codecs/index.js";
import { InvalidArgumentError } from "../../hub/errors.js";
import { WireConnection } from "../../wire/connection.js";
import { RemoteHub, type RemoteHubOptions } from "../../wire/remote-hub.js";
import { verifyReconnectOptions } from "../../wire/reconnect-options.js";
import { CLIENT_DEFAULTS, type ConnectHttpsOptions } from "./client-options.js";
import { openHttp2, type OpenedTransport } from "./connect-http2.js";
import { openWebSocket } from "./connect-websocket.js";
import { withDeadline } from "./deadline.js";
import { AuthenticationError, ConnectError, TlsError, TransportUnavailableError } from "./errors.js";
import { firstByteTimeoutOf } from "./first-byte.js";
import { withKeepAlive } from "./keep-alive.js";
import { mayFallBack } from "./tls-errors.js";
import { HTTP2_TUNING } from "./tuning.js";
import type { BeamhubError } from "../../base/error.js";

/** A hub reached over HTTPS: a `RemoteHub` that also tells which transport carries it. */
export class HttpsRemoteHub extends RemoteHub {
  readonly #current: () => Pick<Session, "kind" | "fallbackCause">;

  constructor(
    connection: WireConnection,
    current: () => Pick<Session, "kind" | "fallbackCause">,
    options?: RemoteHubOptions,
  ) {
    super(connection, options);
    this.#current = current;
  }

  /** `"http2"` or `"websocket"` (after a fallback), of the current connection. */
  get transport(): "http2" | "websocket" {
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
 * reported at once (the fallback would hit them too), as `TlsError` (`ETLS_UNTRUSTED`, `ETLS_EXPIRED`, ...) or `AuthenticationError`.
 */
export async function connectHttps(
  url: string | URL,
  options: ConnectHttpsOptions = {},
): Promise<HttpsRemoteHub> {
  const target = new URL(url);
  if (target.protocol !== "https:" && target.protocol !== "wss:") {
    throw new InvalidArgumentError(`connectHttps needs an https:// or wss:// URL, got ${target.protocol}//`);
  }
  const reconnect = verifyReconnectOptions(options.reconnect);
  const firstByteTimeout = firstByteTimeoutOf(options.firstByteTimeout);
  let current = await openSession(target, options, firstByteTimeout);
  const dial = async (): Promise<WireConnection> => {
    current = await openSession(target, options, firstByteTimeout);
    return current.connection;
  };
  return new HttpsRemoteHub(current.connection, () => current, { dial, reconnect, isPermanent });
}

/**
 * Dial errors a reconnecting client stops at: the hub refused the credentials, or its
 * certificate is not trusted (expired, another CA, another name). Retrying cannot fix them.
 */
function isPermanent(error: unknown): boolean {
  if (error instanceof AuthenticationError) return true;
  return error instanceof TlsError && error.code !== "ETLS_HANDSHAKE";
}

/** One session to the hub: HTTP/2, or the WebSocket as the transport mode says. */
async function openSession(
  target: URL,
  options: ConnectHttpsOptions,
  firstByteTimeout: number,
): Promise<Session> {
  const mode = options.transport ?? (target.protocol === "wss:" ? "websocket" : "auto");
  if (mode === "http2") return establish(target, options, openHttp2);
  if (mode === "websocket") return establish(target, options, openWebSocket);
  // Only "auto" bounds HTTP/2's first bytes: it has somewhere else to go.
  const openFirstBytes = (url: URL, opts: ConnectHttpsOptions, timeout: number): Promise<OpenedTransport> =>
    openHttp2(url, opts, timeout, Math.min(firstByteTimeout, timeout));
  try {
    return await establish(target, options, openFirstBytes);
  } catch (error) {
    if (!mayFallBack(error as BeamhubError)) throw error;
    try {
      return await establish(target, options, openWebSocket, error as BeamhubError);
    } catch (fallbackError) {
      if (!mayFallBack(fallbackError as BeamhubError)) throw fallbackError;
      throw new TransportUnavailableError(
        `cannot reach the hub at ${target.origin} over HTTP/2 (${(error as Error).message}) nor over WebSocket (${(fallbackError as Error).message})`,
        [error, fallbackError],
      );
    }
  }
}

interface Session {
  connection: WireConnection;
  kind: "http2" | "websocket";
  /** Why an "auto" client fell back to the WebSocket: the HTTP/2 attempt's error. */
  fallbackCause?: BeamhubError | undefined;
}

async function establish(
  url: URL,
  options: ConnectHttpsOptions,
  open: (url: URL, options: ConnectHttpsOptions, timeout: number) => Promise<OpenedTransport>,
  fallbackCause?: BeamhubError,
): Promise<Session> {
  const timeout = options.timeout ?? CLIENT_DEFAULTS.timeout;
  const opened = await open(url, options, timeout);
  const live = withKeepAlive(opened.transport, options.keepAlive ?? CLIENT_DEFAULTS.keepAlive);
  const connection = new WireConnection(live, {
    streamWindow: HTTP2_TUNING.sessionStreamWindow,
    ...options.limits,
    role: "client",
    codecs: options.codecs ?? [cborCodec, jsonCodec],
  });
  void connection.closed.then(() => opened.dispose());
  try {
    await withDeadline<void>(
      Math.min(timeout, opened.firstByte?.remaining() ?? timeout),
      () =>
        opened.firstByte?.error("HELLO") ??
        new ConnectError(`${url.origin} did not complete the session handshake within ${timeout} ms`),
      (resolve, reject) => connection.ready.then(resolve, reject),
    );
  } catch (error) {
    connection.close("handshake failed");
    throw error;
  }
  live.arm();
  return { connection, kind: opened.kind, fallbackCause };
}
