import { DEFAULT_CODECS } from "../../wire/config.js";
import type { BeamhubError } from "../../base/error.js";
import { InvalidArgumentError } from "../../model/errors.js";
import type { WireConnection } from "../../wire/connection.js";
import { ConnectTimeoutError } from "../../wire/errors.js";
import { verifyKeepAlive } from "../../wire/keep-alive.js";
import { handshakeWithin, openSession } from "../../wire/open-session.js";
import { CLIENT_DEFAULTS, type HttpsDialOptions } from "./client-options.js";
import { openHttp2, type OpenedTransport } from "./connect-http2.js";
import { openWebSocket } from "./connect-websocket.js";
import { AuthenticationError, ConnectError, TlsError, TransportUnavailableError } from "./errors.js";
import { firstByteTimeoutOf } from "./first-byte.js";
import { mayFallBack } from "./tls-errors.js";
import { HTTP2_TUNING } from "./tuning.js";

/** How much longer than the budget a step's own deadline may run (see `establish`). */
const BUDGET_FIRST_MS = 25;

/** What carries a session to a hub over HTTPS. */
export type HttpsTransportKind = "http2" | "websocket";

/** One session to a hub, opened over the transport it got through on. */
export interface DialedSession {
  /** The session, its HELLOs exchanged. */
  readonly connection: WireConnection;
  readonly kind: HttpsTransportKind;
  /** Why an "auto" dial fell back to the WebSocket: the HTTP/2 attempt's error. */
  readonly fallbackCause?: BeamhubError | undefined;
}

/**
 * Checks `options` and returns a function that opens one session to the hub at `url`
 * (`https://host:port`, or `wss://...` for WebSocket only; a path prefix is kept, for hubs
 * behind a proxy) each time it is called. With transport `"auto"` it tries HTTP/2 and falls
 * back to the WebSocket when HTTP/2 does not get through — including when its first bytes do
 * not come within `firstByteTimeout` (2 s), as behind a proxy that buffers request bodies;
 * certificate and authentication failures are reported at once (the fallback would hit them
 * too), as `TlsError` (`ETLS_UNTRUSTED`, `ETLS_EXPIRED`, ...) or `AuthenticationError`. Each
 * dial, fallback included, is bounded by `connectTimeout` (default 10 s); past it the dial
 * fails with `ConnectTimeoutError` and an attempt still under way is dropped.
 */
export function httpsDialer(url: string | URL, options: HttpsDialOptions = {}): () => Promise<DialedSession> {
  const target = new URL(url);
  if (target.protocol !== "https:" && target.protocol !== "wss:") {
    throw new InvalidArgumentError(`connectHttps needs an https:// or wss:// URL, got ${target.protocol}//`);
  }
  const budget = options.connectTimeout ?? CLIENT_DEFAULTS.connectTimeout;
  if (!(Number.isFinite(budget) && budget > 0)) {
    throw new InvalidArgumentError(`connectTimeout must be a positive number of ms, got ${String(budget)}`);
  }
  verifyKeepAlive(options.keepAlive ?? CLIENT_DEFAULTS.keepAlive);
  const firstByteTimeout = firstByteTimeoutOf(options.firstByteTimeout);
  return () => connectWithin(target, options, budget, firstByteTimeout);
}

/** Opens one session to the hub at `url` (see `httpsDialer`). */
export function dialHttps(url: string | URL, options: HttpsDialOptions = {}): Promise<DialedSession> {
  return httpsDialer(url, options)();
}

/**
 * Dial errors a reconnecting client stops at: the hub refused the credentials, or its
 * certificate is not trusted (expired, another CA, another name). Retrying cannot fix them.
 */
export function isPermanentDialError(error: unknown): boolean {
  if (error instanceof AuthenticationError) return true;
  return error instanceof TlsError && error.code !== "ETLS_HANDSHAKE";
}

/**
 * One session within `budget` ms. Each step of an attempt is bounded by `timeout` already; the
 * budget bounds them all together. A session that arrives after the budget ran out is closed,
 * never leaked.
 */
async function connectWithin(
  target: URL,
  options: HttpsDialOptions,
  budget: number,
  firstByteTimeout: number,
): Promise<DialedSession> {
  let late = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const attempt = connectAny(target, options, performance.now() + budget, firstByteTimeout);
  attempt.then(
    (session) => {
      if (late) session.connection.close("the connect gave up before the session was ready");
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

/** HTTP/2, or the WebSocket as the transport mode says (with `auto`: HTTP/2, else the WebSocket). */
async function connectAny(
  target: URL,
  options: HttpsDialOptions,
  deadline: number,
  firstByteTimeout: number,
): Promise<DialedSession> {
  const mode = options.transport ?? (target.protocol === "wss:" ? "websocket" : "auto");
  if (mode === "http2") return establish(target, options, deadline, openHttp2);
  if (mode === "websocket") return establish(target, options, deadline, openWebSocket);
  // Only "auto" bounds HTTP/2's first bytes: it has somewhere else to go.
  const openFirstBytes = (url: URL, opts: HttpsDialOptions, timeout: number): Promise<OpenedTransport> =>
    openHttp2(url, opts, timeout, Math.min(firstByteTimeout, timeout));
  try {
    return await establish(target, options, deadline, openFirstBytes);
  } catch (error) {
    // Past the deadline the connect has failed already: no fallback attempt is started.
    if (!mayFallBack(error as BeamhubError) || performance.now() >= deadline) throw error;
    try {
      return await establish(target, options, deadline, openWebSocket, error as BeamhubError);
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
  options: HttpsDialOptions,
  deadline: number,
  open: (url: URL, options: HttpsDialOptions, timeout: number) => Promise<OpenedTransport>,
  fallbackCause?: BeamhubError,
): Promise<DialedSession> {
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
    codecs: options.codecs ?? DEFAULT_CODECS,
    keepAlive: options.keepAlive ?? CLIENT_DEFAULTS.keepAlive,
  });
  // Once the session's bytes have left (the close was answered, or given up): releasing the
  // carrier at `closed` would cut a close still delivering its tail.
  void session.connection.finished.then(() => opened.dispose());
  const timeout = Math.min(left(), opened.firstByte?.remaining() ?? Infinity);
  await handshakeWithin(
    session,
    timeout,
    () =>
      opened.firstByte?.error("HELLO") ??
      new ConnectError(`${url.origin} did not complete the session handshake within ${timeout} ms`),
  );
  return { connection: session.connection, kind: opened.kind, fallbackCause };
}
