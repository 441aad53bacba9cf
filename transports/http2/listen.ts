import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type SecureServerOptions,
} from "node:http2";
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { SecureVersion, TLSSocket } from "node:tls";
import { InvalidArgumentError } from "../../model/errors.js";
import type { EndpointHandlers } from "./acceptor.js";
import { attachHttpsSessions } from "./attach.js";
import { createDevCertificate, loadOrCreateDevCertificate } from "./dev-certificate.js";
import { ENDPOINT_DEFAULTS, type EndpointOptions } from "./options.js";
import { HTTP2_TUNING, http2Settings } from "./tuning.js";

type Pem = string | Buffer;

/** Options of `listenHttpsSessions`: the endpoint's, and the server's own (address, TLS). */
export interface HttpsListenOptions extends EndpointOptions {
  /**
   * Serves the requests on paths outside beamhub's (`/beamhub/v1/`), e.g. an application's own
   * routes on the same port; without it they get 404.
   */
  otherRequests?: (request: Http2ServerRequest, response: Http2ServerResponse) => void;
  /**
   * Serves HTTP/1.1 upgrades (`Connection: upgrade`) on paths outside beamhub's, e.g. the task
   * API's sockets (`/v1/sockets`); without it they get 404.
   */
  otherUpgrades?: (request: IncomingMessage, socket: Socket, head: Buffer) => void;
  /** TCP port (default 0: any free port; see `listener.port`). */
  port?: number;
  /** Address to bind (default `127.0.0.1`; `0.0.0.0` or `::` to accept other machines). */
  host?: string;
  /** The server's certificate chain and key (PEM). Without them a development certificate is used. */
  cert?: Pem;
  key?: Pem;
  /**
   * Where the development certificate is kept (`cert.pem`, `key.pem`; created when missing) so
   * clients can pin it. Without `cert`/`key`/`certDir`, a fresh certificate lives in memory
   * only (`listener.certificate`).
   */
  certDir?: string;
  /**
   * CA certificates that sign client certificates (mutual TLS). When set, clients are asked for
   * a certificate; one signed by these CAs gives the session `{id: <subject CN>, via: "mtls"}`.
   */
  ca?: Pem | Pem[];
  /** Oldest TLS version accepted (default `TLSv1.3`). */
  minVersion?: SecureVersion;
  /** Bound on the TLS handshake (ms; default `handshakeTimeout`). */
  tlsHandshakeTimeout?: number;
  /** Anything else for `http2.createSecureServer` (overrides beamhub's choices). */
  tls?: SecureServerOptions;
}

/** An endpoint listening on HTTPS (a hub's, with `listenHttps`). */
export interface HttpsListener {
  /** `https://host:port`, what `connectHttps` takes. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  /** The server's certificate (PEM): clients pin it with `ca`. */
  readonly certificate: string;
  /** The underlying server, e.g. to add routes with `server.on("stream", ...)`. */
  readonly server: Http2SecureServer;
  /** Sessions open right now. */
  readonly sessionCount: number;
  /** TCP connections open right now (see `maxConnections`). */
  readonly connectionCount: number;
  /** Ends every session (GOAWAY), stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Serves beamhub over HTTPS on one port: HTTP/2 sessions and the WebSocket fallback (HTTP/1.1),
 * each handed to `handlers.accept`, and plain requests under `/beamhub/v1/` to
 * `handlers.requests`. TLS 1.3 by default; HTTP/2 windows and stream limits tuned (tuning.ts).
 */
export async function listenHttpsSessions(
  handlers: EndpointHandlers,
  options: HttpsListenOptions = {},
): Promise<HttpsListener> {
  const host = options.host ?? "127.0.0.1";
  const { cert, key } = await certificateFor(options);
  const handshakeTimeout = options.handshakeTimeout ?? ENDPOINT_DEFAULTS.handshakeTimeout;
  const idleTimeout = options.idleTimeout ?? ENDPOINT_DEFAULTS.idleTimeout;
  const server = createSecureServer({
    cert,
    key,
    ...(options.ca === undefined ? {} : { ca: options.ca, requestCert: true, rejectUnauthorized: false }),
    allowHTTP1: true,
    minVersion: options.minVersion ?? "TLSv1.3",
    handshakeTimeout: options.tlsHandshakeTimeout ?? handshakeTimeout,
    settings: http2Settings(),
    maxSessionMemory: HTTP2_TUNING.maxSessionMemory,
    ...options.tls,
  });
  const sockets = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  server.on("secureConnection", (socket: TLSSocket) => {
    socket.setNoDelay(true);
    // HTTP/1.1 connections (curl, a WebSocket before its upgrade) close when idle; HTTP/2
    // sessions get the same timeout from the endpoint.
    if (socket.alpnProtocol !== "h2" && idleTimeout > 0)
      socket.setTimeout(idleTimeout, () => socket.destroy());
  });
  server.on("tlsClientError", () => undefined); // a failed handshake concerns that peer only
  // Before attaching: the endpoint passes what is not beamhub's to the listeners it finds.
  if (options.otherRequests !== undefined) server.on("request", options.otherRequests);
  if (options.otherUpgrades !== undefined) server.on("upgrade", options.otherUpgrades);
  const attached = attachHttpsSessions(server, handlers, options);

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as { port: number }).port;
  const url = `https://${host.includes(":") ? `[${host}]` : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    host,
    port,
    certificate: cert.toString(),
    server,
    get sessionCount() {
      return attached.sessionCount;
    },
    get connectionCount() {
      return attached.connectionCount;
    },
    close() {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        await attached.detach("the hub is shutting down");
        for (const socket of sockets) socket.destroy();
        await stopped;
      })();
      return closing;
    },
  };
}

async function certificateFor(options: HttpsListenOptions): Promise<{ cert: Pem; key: Pem }> {
  if (options.cert !== undefined && options.key !== undefined)
    return { cert: options.cert, key: options.key };
  if (options.cert !== undefined || options.key !== undefined) {
    throw new InvalidArgumentError("listenHttps: give both `cert` and `key`, or neither");
  }
  if (options.certDir !== undefined) return loadOrCreateDevCertificate(options.certDir);
  return createDevCertificate();
}
