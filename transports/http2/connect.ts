import { cborCodec, jsonCodec } from "../../codecs/index.js";
import { InvalidArgumentError } from "../../hub/errors.js";
import type { WireConnection } from "../../wire/connection.js";
import { ConnectTimeoutError } from "../../wire/errors.js";
import { verifyKeepAlive } from "../../wire/keep-alive.js";
import { handshakeWithin, openSession } from "../../wire/open-session.js";
import { RemoteHub } from "../../wire/remote-hub.js";
import { CLIENT_DEFAULTS, type ConnectHttpsOptions } from "./client-options.js";
import { openHttp2, type OpenedTransport } from "./connect-http2.js";
import { openWebSocket } from "./connect-websocket.js";
import { ConnectError, TransportUnavailableError } from "./errors.js";
import { mayFallBack } from "./tls-errors.js";
import { HTTP2_TUNING } from "./tuning.js";
import type { BeamhubError } from "../../base/error.js";

/** How much longer than the budget a step's own deadline may run (see `establish`). */
const BUDGET_FIRST_MS = 25;

/** A hub reached over HTTPS: a `RemoteHub` that also tells which transport carries it. */
export class HttpsRemoteHub extends RemoteHub {
  constructor(
    connection: WireConnection,
    /** `"http2"` or `"websocket"` (after a fallback). */
    readonly transport: "http2" | "websocket",
  ) {
    super(connection);
  }
}

/**
 * Connects to a hub served by `listenHttps`/`attachHub` at `url` (`https://host:port`, or
 * `wss://...` for WebSocket only; a path prefix is kept, for hubs behind a proxy). With
 * transport `"auto"` it tries HTTP/2 and falls back to the WebSocket when HTTP/2 does not get
 * through; certificate and authentication failures are reported at once (the fallback would
 * hit them too), as `TlsError` (`ETLS_UNTRUSTED`, `ETLS_EXPIRED`, ...) or `AuthenticationError`.
 * The whole connect, fallback included, is bounded by `connectTimeout` (default 10 s); past it
 * the connect fails with `ConnectTimeoutError` and an attempt still under way is dropped.
 */
export async function connectHttps(
  url: string | URL,
  options: ConnectHttpsOptions = {},
): Promise<HttpsRemoteHub> {
  const target = new URL(url);
  if (target.protocol !== "https:" && target.protocol !== "wss:") {
    throw new InvalidArgumentError(`connectHttps needs an https:// or wss:// URL, got ${target.protocol}//`);
  }
  const budget = options.connectTimeout ?? CLIENT_DEFAULTS.connectTimeout;
  if (!(Number.isFinite(budget) && budget > 0)) {
    throw new InvalidArgumentError(`connectTimeout must be a positive number of ms, got ${String(budget)}`);
  }
  verifyKeepAlive(options.keepAlive ?? CLIENT_DEFAULTS.keepAlive);
  // Each step of an attempt is bounded by `timeout` already; the budget bounds them all
  // together. A result that arrives after the budget ran out is closed, never leaked.
  let late = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = connectAny(target, options, performance.now() + budget);
  attempt.then(
    (hub) => {
      if (late) void hub.close();
    },
    () => undefined,
  );
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      late = true;
      reject(
        new ConnectTimeoutError(
          target.origin,
          budget,
          "the hub did not complete TLS, the session request and the handshake in time",
        ),
      );
    }, budget);
  });
  try {
    return await Promise.race([attempt, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

async function connectAny(
  target: URL,
  options: ConnectHttpsOptions,
  deadline: number,
): Promise<HttpsRemoteHub> {
  const mode = options.transport ?? (target.protocol === "wss:" ? "websocket" : "auto");
  if (mode === "http2") return establish(target, options, deadline, openHttp2);
  if (mode === "websocket") return establish(target, options, deadline, openWebSocket);
  try {
    return await establish(target, options, deadline, openHttp2);
  } catch (error) {
    // Past the deadline the connect has failed already: no fallback attempt is started.
    if (!mayFallBack(error as BeamhubError) || performance.now() >= deadline) throw error;
    try {
      return await establish(target, options, deadline, openWebSocket);
    } catch (fallbackError) {
      if (!mayFallBack(fallbackError as BeamhubError)) throw fallbackError;
      throw new TransportUnavailableError(
        `cannot reach the hub at ${target.origin} over HTTP/2 (${(error as Error).message}) nor over WebSocket (${(fallbackError as Error).message})`,
        [error, fallbackError],
      );
    }
  }
}

/** One attempt over one transport; each of its steps gets `timeout`, cut to what is left of the budget. */
async function establish(
  url: URL,
  options: ConnectHttpsOptions,
  deadline: number,
  open: (url: URL, options: ConnectHttpsOptions, timeout: number) => Promise<OpenedTransport>,
): Promise<HttpsRemoteHub> {
  // A step cut short by the budget ends just after it, so that the budget's own timer fires first
  // and the connect fails with the error that names the whole deadline.
  const left = (): number =>
    Math.max(
      1,
      Math.min(options.timeout ?? CLIENT_DEFAULTS.timeout, deadline - performance.now() + BUDGET_FIRST_MS),
    );
  const opened = await open(url, options, left());
  const session = openSession(opened.transport, {
    streamWindow: HTTP2_TUNING.sessionStreamWindow,
    ...options.limits,
    role: "client",
    codecs: options.codecs ?? [cborCodec, jsonCodec],
    keepAlive: options.keepAlive ?? CLIENT_DEFAULTS.keepAlive,
  });
  void session.connection.closed.then(() => opened.dispose());
  const timeout = left();
  await handshakeWithin(
    session,
    timeout,
    () => new ConnectError(`${url.origin} did not complete the session handshake within ${timeout} ms`),
  );
  return new HttpsRemoteHub(session.connection, opened.kind);
}
