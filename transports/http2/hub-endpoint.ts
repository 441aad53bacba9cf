import type { IncomingMessage, ServerResponse } from "node:http";
import type {
  Http2ServerRequest,
  Http2ServerResponse,
  ServerHttp2Session,
  ServerHttp2Stream,
} from "node:http2";
import type { Duplex } from "node:stream";
import type { TLSSocket } from "node:tls";
import { WebSocketServer } from "ws";
import { cborCodec, jsonCodec } from "../../codecs/index.js";
import type { Hub } from "../../hub/hub.js";
import type { Identity } from "../../hub/types.js";
import { serveHubSession } from "../../wire/hub-server.js";
import { verifyKeepAlive, type AbortableTransport } from "../../wire/keep-alive.js";
import { openSession } from "../../wire/open-session.js";
import { identify } from "./authenticate.js";
import { http2StreamTransport } from "./h2-transport.js";
import { HandshakeGuard } from "./handshake-guard.js";
import {
  sendError,
  sendJson,
  serveCall,
  serveServices,
  type ApiRequest,
  type ApiResponse,
} from "./http-api.js";
import { SERVER_DEFAULTS, type HubServerOptions } from "./options.js";
import {
  BASE_PATH,
  CALL_PATH,
  SERVICES_PATH,
  SESSION_CONTENT_TYPE,
  SESSION_PATH,
  WEBSOCKET_PATH,
  WEBSOCKET_PROTOCOL,
} from "./paths.js";
import { Refusal } from "./refusal.js";
import { SessionTable } from "./session-table.js";
import { HTTP2_TUNING, tuneSession } from "./tuning.js";
import { webSocketTransport } from "./ws-transport.js";

/** A request from an HTTP/1.1 or an HTTP/2 (compatibility API) server. */
export type HubRequest = IncomingMessage | Http2ServerRequest;
/** A response of an HTTP/1.1 or an HTTP/2 (compatibility API) server. */
export type HubResponse = ServerResponse | Http2ServerResponse;

/**
 * Everything beamhub serves on an HTTPS server, independent of who owns the server:
 * HTTP/2 sessions (`POST /beamhub/v1/session`), WebSocket sessions (`/beamhub/v1/ws`), the
 * plain HTTP mapping for curl, authentication, limits and the slow-loris guard. `attachHub`
 * feeds it a server's events; `listenHttps` makes a server and attaches it.
 */
export class HubEndpoint {
  readonly #hub: Hub;
  readonly #options: HubServerOptions & typeof SERVER_DEFAULTS;
  readonly #table: SessionTable;
  readonly #guard: HandshakeGuard;
  readonly #webSockets: WebSocketServer;
  readonly #http2Sessions = new Set<ServerHttp2Session>();
  #closing = false;

  constructor(hub: Hub, options: HubServerOptions = {}) {
    this.#hub = hub;
    this.#options = { ...SERVER_DEFAULTS, ...options };
    // A bad interval fails here, not at the first session.
    verifyKeepAlive(this.#options.keepAlive ?? SERVER_DEFAULTS.keepAlive);
    this.#table = new SessionTable(this.#options.maxSessions, this.#options.maxSessionsPerIdentity);
    this.#guard = new HandshakeGuard(this.#options.handshakeTimeout);
    const maxFrameSize = options.limits?.maxFrameSize ?? SERVER_DEFAULTS.maxFrameSize;
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

  /** A TLS connection was accepted: its first request must come within `handshakeTimeout`. */
  secureConnection(socket: TLSSocket): void {
    this.#guard.start(socket);
  }

  /** An HTTP/2 connection was accepted: windows raised, idle connections dropped. */
  http2Session(session: ServerHttp2Session): void {
    tuneSession(session);
    this.#http2Sessions.add(session);
    session.once("close", () => this.#http2Sessions.delete(session));
    if (this.#options.idleTimeout > 0) session.setTimeout(this.#options.idleTimeout, () => session.destroy());
  }

  /** Serves `request` if its path is beamhub's (returns true), else leaves it alone (false). */
  handleRequest(request: HubRequest, response: HubResponse): boolean {
    const socket = tlsSocketOf(request);
    this.#guard.passed(socket);
    const url = request.url ?? "/";
    if (!url.startsWith(`${BASE_PATH}/`)) return false;
    const api = response as unknown as ApiResponse;
    this.#serve(request, api, url, socket).catch((error: unknown) => sendError(api, error));
    return true;
  }

  /** Upgrades `request` to a WebSocket session if its path is beamhub's (true), else false. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    this.#guard.passed(socket as TLSSocket);
    const url = parseUrl(request.url);
    if (url?.pathname !== WEBSOCKET_PATH) return false;
    this.#upgrade(request, socket, head, url.searchParams).catch((error: unknown) =>
      refuseUpgrade(socket, error),
    );
    return true;
  }

  /**
   * Stops accepting sessions and ends every one (GOAWAY `ENORMAL`), then closes the HTTP/2
   * connections gracefully, destroying those still open after `graceMs`.
   */
  async close(reason = "the hub is shutting down", graceMs = 2000): Promise<void> {
    this.#closing = true;
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

  async #serve(
    request: HubRequest,
    response: ApiResponse,
    rawUrl: string,
    socket: TLSSocket | undefined,
  ): Promise<void> {
    const url = parseUrl(rawUrl);
    if (url === undefined)
      throw new Refusal(400, "EINVALID_ARGUMENT", "malformed request URL", "InvalidArgumentError");
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
      const identity = await identify(
        { headers: request.headers, socket, query: undefined, transport: "http2" },
        this.#options,
      );
      return this.#openHttp2Session(request.stream, identity, socket);
    }
    if (path === WEBSOCKET_PATH) {
      throw new Refusal(
        426,
        "EUPGRADE",
        `${WEBSOCKET_PATH} is a WebSocket (HTTP/1.1 upgrade, subprotocol ${WEBSOCKET_PROTOCOL})`,
      );
    }
    const apiPath = path === SERVICES_PATH || path.startsWith(CALL_PATH);
    if (!this.#options.httpApi || !apiPath) {
      return sendJson(response, 404, {
        name: "NotFound",
        message: `no beamhub route ${path}`,
        code: "ENOT_FOUND",
      });
    }
    const identity = await identify(
      { headers: request.headers, socket, query: undefined, transport: "http" },
      this.#options,
    );
    const apiRequest = request as unknown as ApiRequest;
    if (path === SERVICES_PATH)
      return serveServices(this.#hub, url.searchParams, apiRequest, response, identity);
    return serveCall(
      this.#hub,
      path,
      url.searchParams,
      apiRequest,
      response,
      identity,
      this.#options.maxBodySize,
    );
  }

  #openHttp2Session(
    stream: ServerHttp2Stream,
    identity: Identity | undefined,
    socket: TLSSocket | undefined,
  ): void {
    const key = keyOf(identity, socket);
    this.#table.admit(key);
    stream.respond({ ":status": 200, "content-type": SESSION_CONTENT_TYPE, "cache-control": "no-store" });
    this.#startSession(http2StreamTransport(stream), identity, key);
  }

  async #upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    query: URLSearchParams,
  ): Promise<void> {
    if (this.#closing) throw new Refusal(503, "ECLOSED", "the hub is shutting down", "ClosedError");
    const offered = String(request.headers["sec-websocket-protocol"] ?? "")
      .split(",")
      .map((protocol) => protocol.trim());
    if (!offered.includes(WEBSOCKET_PROTOCOL)) {
      throw new Refusal(400, "EPROTOCOL", `offer the WebSocket subprotocol ${WEBSOCKET_PROTOCOL}`);
    }
    const tls = socket as TLSSocket;
    const identity = await identify(
      { headers: request.headers, socket: tls, query, transport: "websocket" },
      this.#options,
    );
    const key = keyOf(identity, tls);
    this.#table.admit(key);
    this.#webSockets.handleUpgrade(request, socket, head, (webSocket) => {
      this.#startSession(webSocketTransport(webSocket, this.#options.maxWebSocketMessage), identity, key);
    });
  }

  #startSession(transport: AbortableTransport, identity: Identity | undefined, key: string): void {
    const { connection } = openSession(transport, {
      streamWindow: HTTP2_TUNING.sessionStreamWindow,
      ...this.#options.limits,
      role: "server",
      codecs: this.#options.codecs ?? [cborCodec, jsonCodec],
      keepAlive: this.#options.keepAlive,
      handshakeTimeout: this.#options.handshakeTimeout,
    });
    this.#table.add(connection, key);
    serveHubSession(this.#hub, connection, identity);
  }
}

function parseUrl(url: string | undefined): URL | undefined {
  try {
    return new URL(url ?? "/", "https://hub.invalid");
  } catch {
    return undefined;
  }
}

/** The TLS socket under a request (an HTTP/2 session's socket proxy reads through to it). */
function tlsSocketOf(request: HubRequest): TLSSocket | undefined {
  if ("stream" in request) return request.stream.session?.socket as TLSSocket | undefined;
  return request.socket as TLSSocket;
}

function keyOf(identity: Identity | undefined, socket: TLSSocket | undefined): string {
  return identity === undefined
    ? `address:${socket?.remoteAddress ?? "?"}`
    : `${identity.via}:${identity.id}`;
}

/** Answers a refused upgrade with a plain HTTP/1.1 response carrying the JSON error. */
function refuseUpgrade(socket: Duplex, error: unknown): void {
  const refusal =
    error instanceof Refusal
      ? error
      : new Refusal(500, "EINTERNAL", String((error as Error)?.message ?? error));
  const body = JSON.stringify(refusal.body);
  const reason =
    refusal.status === 401 ? "Unauthorized" : refusal.status === 429 ? "Too Many Requests" : "Refused";
  if (socket.writable) {
    socket.end(
      `HTTP/1.1 ${refusal.status} ${reason}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  setTimeout(() => socket.destroy(), 1000).unref();
}
