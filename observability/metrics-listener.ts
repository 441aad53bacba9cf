/**
 * A plain HTTP listener for `/metrics`, `/healthz` and `/readyz` (`beamhub serve --metrics
 * HOST:PORT`): what Prometheus and a process supervisor reach without TLS or tokens, so the CLI
 * binds it to loopback only.
 * @module
 */
import { createServer, type Server } from "node:http";
import type { Socket } from "node:net";
import { healthRoutes, type HealthRoutesOptions } from "./health-routes.js";

/** A running metrics listener. */
export interface MetricsListener {
  /** `http://host:port`. */
  readonly url: string;
  readonly port: number;
  readonly server: Server;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Serves `/metrics`, `/healthz` and `/readyz` over plain HTTP at `host:port` (port 0: any free). */
export async function listenMetrics(
  host: string,
  port: number,
  options: HealthRoutesOptions,
): Promise<MetricsListener> {
  const routes = healthRoutes(options);
  const sockets = new Set<Socket>();
  const server = createServer((request, response) => {
    if (!routes(request, response)) {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      response.end("this listener serves /metrics, /healthz and /readyz\n");
    }
  });
  // Scrapers keep connections alive; an idle one is closed, and all of them at close().
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.on("connection", (socket: Socket) => {
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as { port: number }).port;
  let closing: Promise<void> | undefined;
  return {
    url: `http://${host.includes(":") ? `[${host}]` : host}:${actual}`,
    port: actual,
    server,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const socket of sockets) socket.destroy();
      });
      return closing;
    },
  };
}
