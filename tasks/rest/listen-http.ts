import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { isLoopbackHost } from "../../base/loopback.js";
import { InvalidTaskError } from "../errors.js";
import type { TaskBroker } from "../task-broker.js";
import { writeRawAnswer } from "./error-answer.js";
import { taskUpgradeListener } from "./socket-routes.js";
import { taskRequestListener } from "./task-routes.js";

/** Options of {@link listenTasksHttp}. */
export interface ListenTasksHttpOptions {
  host?: string;
  port?: number;
  /** Listen on an address other than loopback. Plain HTTP carries keys in clear: say so on purpose. */
  allowRemote?: boolean;
}

/** A plain-HTTP task listener. */
export interface TasksHttpListener {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Serves the task REST face on plain HTTP, because Samply applications talk plain HTTP to a
 * local proxy. Loopback only unless `allowRemote`. Socket upgrades (`/v1/sockets`) are served
 * with or without `Connection: upgrade`.
 */
export async function listenTasksHttp(
  broker: TaskBroker,
  options: ListenTasksHttpOptions = {},
): Promise<TasksHttpListener> {
  const host = options.host ?? "127.0.0.1";
  if (options.allowRemote !== true && !isLoopbackHost(host)) {
    throw new InvalidTaskError(
      `plain HTTP on ${host} would expose application keys; listen on loopback or allow it explicitly`,
    );
  }
  const server = createServer(taskRequestListener(broker));
  server.requestTimeout = 0; // long polls may take up to an hour; each one has its own deadline
  const upgrade = taskUpgradeListener(broker);
  // Nothing but /v1/sockets upgrades here.
  server.on("upgrade", (request: IncomingMessage, socket: Socket, head: Buffer) => {
    if (!upgrade(request, socket, head)) writeRawAnswer(socket, { status: 404, headers: {}, body: "" });
  });
  // Every connection, so that closing ends the upgraded ones too (node:http forgets those).
  const connections = new Set<Socket>();
  server.on("connection", (socket: Socket) => {
    connections.add(socket);
    socket.once("close", () => connections.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        for (const socket of connections) socket.destroy();
      }),
  };
}
