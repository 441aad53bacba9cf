import { DEFAULT_CODECS } from "../../wire/config.js";
import type { IncomingMessage, ServerResponse } from "node:http";
import {
  constants as http2Constants,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import type { Identity } from "../../model/identity.js";
import type { WireConnection } from "../../wire/connection.js";
import { verifyKeepAlive, type AbortableTransport } from "../../wire/keep-alive.js";
import { openSession } from "../../wire/open-session.js";
import type { EndpointHandlers, HttpsPeer } from "./acceptor.js";
import { identify, takesQueryToken } from "./authenticate.js";
import { connectionFactsOf, type ConnectionFacts } from "./connection-facts.js";
import { http2StreamTransport } from "./h2-transport.js";
import { ConnectionGuard, connectionKey } from "./connection-guard.js";
import { sendError, sendJson, type ApiRequest, type ApiResponse } from "./http-replies.js";
import { ENDPOINT_DEFAULTS, type EndpointOptions } from "./options.js";
import {
  BASE_PATH,
  CALL_PATH,
  SESSION_CONTENT_TYPE,
  SESSION_PATH,
  WEBSOCKET_PATH,
  WEBSOCKET_PROTOCOL,
} from "./paths.js";
import { OriginPolicy } from "./origin-policy.js";
import { Refusal } from "./refusal.js";
import { parseRequestTarget, type RequestTarget } from "./request-target.js";
import { isReportedRefusal, notePeer, refusalNoteOf, RefusalReporter } from "./refusal-log.js";
import { SessionTable } from "./session-table.js";
import { StreamRequest, StreamResponse } from "./stream-exchange.js";
import { TrustedProxies } from "./trusted-proxies.js";
import { HTTP2_TUNING, tuneSession } from "./tuning.js";
import { webSocketTransport } from "./websocket-transport.js";
import { wsSocketPort } from "./ws-socket-port.js";

/** A request from an HTTP/1.1 or an HTTP/2 (compatibility API) server. */
export type EndpointRequest = IncomingMessage | Http2ServerRequest;
/** A response of an HTTP/1.1 or an HTTP/2 (compatibility API) server. */
export type EndpointResponse = ServerResponse | Http2ServerResponse;
/** What the endpoint serves: a server's request, or a plain call read from its HTTP/2 stream. */
type ServedRequest = EndpointRequest | StreamRequest;
/** A server's response, or one on a plain call's HTTP/2 stream. */
type ServedResponse = EndpointResponse | StreamResponse;

/**
 * Everything beamhub answers on an HTTPS server, independent of who owns the server and of
 * what the sessions are for: HTTP/2 sessions (`POST /beamhub/v1/session`) and WebSocket
 * sessions (`/beamhub/v1/ws`), each opened and handed to the acceptor; plain requests under
 * `/beamhub/v1/` handed to the request handler; and around them authentication, origins,
 * limits and the slow-loris guard. `attachHttpsSessions` feeds it a server's events;
 * `listenHttpsSessions` makes a server and attaches it.
 */
export class HttpsEndpoint {
  readonly #handlers: EndpointHandlers;
  readonly #options: EndpointOptions & typeof ENDPOINT_DEFAULTS;
  readonly #table: SessionTable;
  readonly #guard: ConnectionGuard;
  readonly #proxies: TrustedProxies;
  readonly #origins: OriginPolicy;
  readonly #webSockets: WebSocketServer;
  readonly #http2Sessions = new Set<ServerHttp2Session>();
  /** Reports 401/403 refusals (with `onRefused`). */
  readonly #refusals: RefusalReporter | undefined;
  #closing = false;

  constructor(handlers: EndpointHandlers, options: EndpointOptions = {}) {
    this.#handlers = handlers;
    this.#options = { ...ENDPOINT_DEFAULTS, ...options };
    // A bad interval fails here, not at the first session.
    verifyKeepAlive(this.#options.keepAlive ?? ENDPOINT_DEFAULTS.keepAlive);
    this.#table = new SessionTable(this.#options.maxSessions, this.#options.maxSessionsPerIdentity);
    this.#proxies = new TrustedProxies(this.#options.trustedProxies);
    this.#guard = new ConnectionGuard({
      maxConnections: this.#options.maxConnections,
      maxConnectionsPerAddress: this.#options.maxConnectionsPerAddress,
      establishTimeout: this.#options.establishTimeout ?? 2 * this.#options.handshakeTimeout,
      trustedProxies: this.#proxies,
      log: this.#options.log ?? ((line) => console.warn(line)),
    });
    this.#origins = new OriginPolicy(this.#options.allowOrigins);
    const onRefused = this.#options.onRefused;
    this.#refusals = onRefused === undefined ? undefined : new RefusalReporter(onRefused);
    const maxFrameSize = options.limits?.maxFrameSize ?? ENDPOINT_DEFAULTS.maxFrameSize;
    this.#webSockets = new WebSocketServer({
      noServer: true,
      perMessageDeflate: false,
      maxPayload: maxFrameSize + 1024 * 1024,
      handleProtocols: (offered) => (offered.has(WEBSOCKET_PROTOCOL) ? WEBSOCKET_PROTOCOL : false),
    });
  }

  /** Sessions open right now (HTTP/2 and WebSocket). */
  get sessionCount(): number {
    return this.#table.size;
  }

  /** Connections open right now (TCP, counted from accept). */
  get connectionCount(): number {
    return this.#guard.size;
  }

  /**
   * A TCP connection was accepted (the server's `connection` event): counted against
   * `maxConnections` and `maxConnectionsPerAddress`, and destroyed unless it is established
   * (a session's HELLO, or a complete request) within `handshakeTimeout`.
   */
  connection(socket: Socket): void {
    this.#guard.accept(socket);
  }

  /**
   * A request on a route that is not beamhub's was handed to the server's own listeners: its
   * connection counts as established (what those routes do is theirs to bound).
   */
  passedOn(request: EndpointRequest | IncomingMessage): void {
    this.#guard.established(connectionKey(tlsSocketOf(request)));
  }

  /** A request answered 404 by beamhub: the connection is established once it is complete. */
  establishWhenComplete(request: EndpointRequest): void {
    const key = connectionKey(tlsSocketOf(request));
    request.once("end", () => this.#guard.established(key));
    request.resume();
  }

  /** An HTTP/2 connection was accepted: windows raised, idle connections dropped. */
  http2Session(session: ServerHttp2Session): void {
    tuneSession(session);
    this.#http2Sessions.add(session);
    session.once("close", () => this.#http2Sessions.delete(session));
    if (this.#options.idleTimeout > 0) session.setTimeout(this.#options.idleTimeout, () => session.destroy());
  }

  /**
   * Reports `response` if it refuses `request` with 401 or 403, once it is finished (with
   * `onRefused`; any route of the server, beamhub's or not).
   */
  watchRefusal(request: ServedRequest, response: ServedResponse): void {
    const refusals = this.#refusals;
    if (refusals === undefined) return;
    response.once("finish", () => {
      const status = response.statusCode;
      if (!isReportedRefusal(status)) return;
      const note = refusalNoteOf(response);
      const path = parseUrl(request.url)?.pathname ?? "?";
      const address = this.#proxies.clientAddress(tlsSocketOf(request)?.remoteAddress, request.headers);
      refusals.refused({
        status,
        ...(note?.code === undefined ? {} : { code: note.code }),
        reason: note?.reason ?? REASONS[status]!,
        method: request.method ?? "?",
        path,
        ...(address === undefined ? {} : { address }),
        ...(note?.identity === undefined ? {} : { identity: note.identity.id }),
        transport: path === SESSION_PATH && "stream" in request ? "http2" : "http",
      });
    });
  }

  /**
   * Serves a plain call over HTTP/2 (`POST /beamhub/v1/call/<name>`) on its stream, through
   * Node's core API (the server's `stream` event), and returns true; any other stream is left
   * to the compatibility layer (false). The call then takes the same way as one that came as a
   * compatibility request (origins, authentication, limits, refusal reports): only the request
   * and response objects are lighter (stream-exchange.ts; issue 19).
   */
  handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): boolean {
    const path = headers[":path"];
    if (headers[":method"] !== "POST" || headers.expect !== undefined || !path?.startsWith(CALL_PATH))
      return false;
    // As under the compatibility layer, a stream's errors (a reset with an error code) concern
    // that request alone: the call is cancelled by the stream's close.
    stream.on("error", ignoreStreamError);
    const request = new StreamRequest(stream, headers);
    const response = new StreamResponse(stream, request);
    this.watchRefusal(request, response);
    return this.handleRequest(request, response);
  }

  /** Serves `request` if its path is beamhub's (returns true), else leaves it alone (false). */
  handleRequest(request: ServedRequest, response: ServedResponse): boolean {
    const raw = request.url ?? "/";
    // Parsed once, here, and only for beamhub's prefix (issue 19: parsing twice per request).
    const target = raw.startsWith("/beamhub/") ? parseRequestTarget(raw) : undefined;
    // beamhub's routes: everything under /beamhub/v1/, and what the plain handler serves besides
    // (the dashboard at /beamhub/ui); any other path is the server's own.
    if (!raw.startsWith(`${BASE_PATH}/`) && !this.#servesPlain(target)) return false;
    const connection = connectionFactsOf(request);
    // A complete request establishes its connection (a session's is established by its HELLO):
    // one that never completes — the peer stalls, or breaks HTTP/2 mid-request — is dropped.
    if (!("stream" in request && target?.pathname === SESSION_PATH)) {
      if (!connection.established) request.once("end", () => this.#established(connection));
      // A refused request's body, drained (a response on a stream drains its body as it ends).
      if (!(response instanceof StreamResponse)) response.once("finish", drainRequest);
    }
    const api = response as unknown as ApiResponse;
    // Served without a promise where nothing waits (no token to check, a synchronous route):
    // each `async` hop was a turn of the microtask queue per request.
    let served: Promise<void> | void;
    try {
      served = this.#serve(request, response, target, connection);
    } catch (error) {
      sendError(api, error);
      return true;
    }
    served?.catch((error: unknown) => sendError(api, error));
    return true;
  }

  #servesPlain(target: RequestTarget | undefined): boolean {
    const requests = this.#handlers.requests;
    return requests !== undefined && target !== undefined && requests.serves(target.pathname);
  }

  #established(connection: ConnectionFacts): void {
    connection.established = true;
    this.#guard.established(connection.key);
  }

  /** Upgrades `request` to a WebSocket session if its path is beamhub's (true), else false. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const url = parseUrl(request.url);
    if (url?.pathname !== WEBSOCKET_PATH) return false;
    this.#upgrade(request, socket, head, url.searchParams).catch((error: unknown) => {
      this.#reportUpgradeRefusal(request, error);
      refuseUpgrade(socket, error);
    });
    return true;
  }

  #reportUpgradeRefusal(request: IncomingMessage, error: unknown): void {
    if (this.#refusals === undefined || !(error instanceof Refusal) || !isReportedRefusal(error.status))
      return;
    const address = this.#proxies.clientAddress(request.socket.remoteAddress, request.headers);
    this.#refusals.refused({
      status: error.status,
      code: error.code,
      reason: error.message,
      method: request.method ?? "GET",
      path: WEBSOCKET_PATH,
      ...(address === undefined ? {} : { address }),
      transport: "websocket",
    });
  }

  /**
   * Stops accepting sessions and ends every one (GOAWAY `ENORMAL`), then closes the HTTP/2
   * connections gracefully, destroying those still open after `graceMs`.
   */
  async close(reason = "the hub is shutting down", graceMs = 2000): Promise<void> {
    this.#closing = true;
    this.#handlers.requests?.close?.();
    await this.#table.closeAll(reason);
    const sessions = [...this.#http2Sessions];
    await Promise.all(
      sessions.map(
        (session) =>
          new Promise<void>((resolve) => {
            if (session.destroyed) return resolve();
            const timer = setTimeout(() => session.destroy(), graceMs);
            session.close(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      ),
    );
    for (const client of this.#webSockets.clients) client.terminate();
    this.#webSockets.close();
  }

  #serve(
    request: ServedRequest,
    httpResponse: ServedResponse,
    url: RequestTarget | undefined,
    connection: ConnectionFacts,
  ): Promise<void> | void {
    const response = httpResponse as unknown as ApiResponse;
    if (url === undefined)
      throw new Refusal(400, "EINVALID_ARGUMENT", "malformed request URL", "InvalidArgumentError");
    // Cross-site first: a page on a site not allowed learns nothing and runs nothing.
    if (request.method === "OPTIONS") {
      const preflight = this.#origins.preflight(request.headers);
      response.writeHead(preflight.status, preflight.headers);
      response.end();
      return;
    }
    const verdict = this.#origins.check(request.headers);
    if (verdict.origin !== undefined)
      for (const [name, value] of Object.entries(verdict.headers)) httpResponse.setHeader(name, value);
    if (this.#closing) throw new Refusal(503, "ECLOSED", "the hub is shutting down", "ClosedError");
    const path = url.pathname;
    if (path === SESSION_PATH) {
      if (!("stream" in request)) {
        throw new Refusal(
          505,
          "EHTTP_VERSION",
          `sessions over HTTP/1.1 use the WebSocket at ${WEBSOCKET_PATH}; ${SESSION_PATH} needs HTTP/2`,
        );
      }
      if (request.method !== "POST")
        throw new Refusal(405, "EMETHOD", `open a session with POST ${SESSION_PATH}`);
      const type = request.headers["content-type"];
      if (type !== undefined && type !== SESSION_CONTENT_TYPE) {
        throw new Refusal(
          415,
          "ECONTENT_TYPE",
          `a session's content-type is ${SESSION_CONTENT_TYPE}, not ${type}`,
        );
      }
      const address = this.#proxies.clientAddress(connection.remoteAddress, request.headers);
      const stream = request.stream;
      return whenKnown(this.#identify(request, connection, address, "http2"), (identity) =>
        this.#openHttp2Session(
          stream,
          { identity, remoteAddress: address, transport: "http2" },
          connection.key,
        ),
      );
    }
    if (path === WEBSOCKET_PATH) {
      throw new Refusal(
        426,
        "EUPGRADE",
        `${WEBSOCKET_PATH} is a WebSocket (HTTP/1.1 upgrade, subprotocol ${WEBSOCKET_PROTOCOL})`,
      );
    }
    const requests = this.#handlers.requests;
    if (requests === undefined || !requests.serves(path)) {
      return sendJson(response, 404, {
        name: "NotFound",
        message: `no beamhub route ${path}`,
        code: "ENOT_FOUND",
      });
    }
    const address = this.#proxies.clientAddress(connection.remoteAddress, request.headers);
    // An EventSource cannot set headers: GET of an event stream may carry `access_token`.
    const query = takesQueryToken(request.method, path) ? url.searchParams : undefined;
    return whenKnown(this.#identify(request, connection, address, "http", query), (identity) => {
      const peer: HttpsPeer = { identity, remoteAddress: address, transport: "http" };
      notePeer(httpResponse, identity);
      return requests.serve(request as unknown as ApiRequest, url, response, peer);
    });
  }

  #identify(
    request: ServedRequest,
    connection: ConnectionFacts,
    address: string | undefined,
    transport: "http" | "http2",
    query?: URLSearchParams,
  ): ReturnType<typeof identify> {
    return identify(
      {
        headers: request.headers,
        socket: connection.socket,
        address,
        query,
        transport,
        connection,
      },
      this.#options,
    );
  }

  #openHttp2Session(stream: ServerHttp2Stream, peer: HttpsPeer, connection: string | undefined): void {
    const key = keyOf(peer.identity, peer.remoteAddress);
    this.#table.admit(key);
    stream.respond({ ":status": 200, "content-type": SESSION_CONTENT_TYPE, "cache-control": "no-store" });
    const session = this.#startSession(http2StreamTransport(stream), peer, key, connection);
    // Reaped only once the session's bytes have left: a close still delivering its tail to a slow
    // reader makes progress, and is bounded by its own stall limit.
    void session.finished.then(() =>
      reapStream(stream, () =>
        this.#guard.report(
          "stream-reaped",
          `https: destroyed a connection from ${peer.remoteAddress ?? "?"}: its ended session's HTTP/2 stream would not close (the peer broke HTTP/2)`,
        ),
      ),
    );
  }

  async #upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: URLSearchParams,
  ): Promise<void> {
    if (this.#closing) throw new Refusal(503, "ECLOSED", "the hub is shutting down", "ClosedError");
    this.#origins.check(request.headers);
    const offered = String(request.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((protocol) => protocol.trim());
    if (!offered.includes(WEBSOCKET_PROTOCOL)) {
      throw new Refusal(400, "EPROTOCOL", `offer the WebSocket subprotocol ${WEBSOCKET_PROTOCOL}`);
    }
    const tls = socket as TLSSocket;
    const connection = connectionKey(tls);
    const address = this.#proxies.clientAddress(tls.remoteAddress, request.headers);
    const identity = await identify(
      { headers: request.headers, socket: tls, address, query, transport: "websocket" },
      this.#options,
    );
    const key = keyOf(identity, address);
    this.#table.admit(key);
    this.#webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      const transport = webSocketTransport(wsSocketPort(webSocket), this.#options.maxWebSocketMessage);
      this.#startSession(
        transport,
        { identity, remoteAddress: address, transport: "websocket" },
        key,
        connection,
      );
    });
  }

  #startSession(
    transport: AbortableTransport,
    peer: HttpsPeer,
    key: string,
    socketKey: string | undefined,
  ): WireConnection {
    const session = openSession(transport, {
      streamWindow: HTTP2_TUNING.sessionStreamWindow,
      ...this.#options.limits,
      role: "server",
      codecs: this.#options.codecs ?? DEFAULT_CODECS,
      keepAlive: this.#options.keepAlive,
      handshakeTimeout: this.#options.handshakeTimeout,
    });
    const { connection } = session;
    this.#table.add(connection, key);
    // The connection guard's deadline stops once a session is established (HELLOs exchanged).
    connection.ready.then(
      () => this.#guard.established(socketKey),
      () => undefined,
    );
    try {
      this.#handlers.accept(session, peer);
    } catch (error) {
      // An acceptor that cannot take the session ends it: the peer hears why, nothing lingers.
      connection.close(`the session was not accepted: ${(error as Error)?.message ?? String(error)}`);
    }
    return connection;
  }
}

/** How long an ended session's HTTP/2 stream may take to close before it is reset, then its connection destroyed. */
const STREAM_REAP_GRACE = 2000;

/**
 * A session has ended; its HTTP/2 stream should close as soon as the peer ends its side. If
 * it has not after a grace period, it is reset (RST_STREAM CANCEL); if even that does not close
 * it, nghttp2 is no longer processing the connection — a peer broke the protocol after the
 * session was established (e.g. a stray CONTINUATION frame), and `node:http2` would hold the
 * socket until its idle timeout and beyond — so the connection is destroyed.
 */
function reapStream(stream: ServerHttp2Stream, onDestroy: () => void): void {
  // Judged by the stream's "close" event, not by `stream.closed`: a session that ended through
  // its keep-alive has already reset the stream on its side (`closed` is then true), yet a
  // stalled nghttp2 never finishes closing it, and the connection would stay.
  let done = false;
  stream.once("close", () => (done = true));
  if (stream.destroyed && stream.session?.destroyed !== false) return;
  const reset = setTimeout(() => {
    if (done) return;
    if (!stream.closed) stream.close(http2Constants.NGHTTP2_CANCEL);
    const destroy = setTimeout(() => {
      if (done) return;
      onDestroy();
      stream.session?.destroy();
    }, STREAM_REAP_GRACE);
    destroy.unref();
  }, STREAM_REAP_GRACE);
  reset.unref();
}

/** A plain request's stream failed: its `close` follows, which is what the request acts on. */
function ignoreStreamError(): void {}

/** Reads what is left of a finished response's request, so its connection can go on. */
function drainRequest(this: EndpointResponse): void {
  this.req.resume();
}

/** `then(value)` now if `value` is known, else once its promise fulfils. */
function whenKnown<T, R>(value: T | Promise<T>, then: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(then) : then(value);
}

function parseUrl(url: string | undefined): URL | undefined {
  try {
    return new URL(url ?? "/", "https://hub.invalid");
  } catch {
    return undefined;
  }
}

/** The TLS socket under a request (an HTTP/2 session's socket proxy reads through to it). */
function tlsSocketOf(request: ServedRequest): TLSSocket | undefined {
  if ("stream" in request) return request.stream.session?.socket as TLSSocket | undefined;
  return request.socket as TLSSocket;
}

/** Whom a session counts against: its identity, or its (client) address when anonymous. */
function keyOf(identity: Identity | undefined, address: string | undefined): string {
  return identity === undefined ? `address:${address ?? "?"}` : `${identity.via}:${identity.id}`;
}

const REASONS: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  429: "Too Many Requests",
  503: "Service Unavailable",
};

/** Answers a refused upgrade with a plain HTTP/1.1 response carrying the JSON error. */
function refuseUpgrade(socket: Duplex, error: unknown): void {
  const refusal =
    error instanceof Refusal
      ? error
      : new Refusal(500, "EINTERNAL", String((error as Error)?.message ?? error));
  const body = JSON.stringify(refusal.body);
  const reason = REASONS[refusal.status] ?? "Refused";
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${refusal.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}
