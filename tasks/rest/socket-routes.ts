import type { Duplex } from "node:stream";
import { STATUS_CODES, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { isReportedRefusal, RefusalReporter, type HttpsRefusal } from "../../transports/http2/refusal-log.js";
import { InvalidTaskError, SocketGoneError, UpgradeRequiredError, type TaskError } from "../errors.js";
import type { TaskBroker } from "../task-broker.js";
import { errorAnswer, writeRawAnswer } from "./error-answer.js";
import {
  decodeSegment,
  header,
  sendJson,
  sendText,
  waitCondition,
  clientGone,
  type HttpRequest,
  type HttpResponse,
} from "./http-exchange.js";
import { takeOverSocket } from "./take-over-socket.js";

const SOCKETS = /^\/v1\/sockets\/?$/;
const SOCKET = /^\/v1\/sockets\/([^/]+)$/;

/** Whether `path` is one of the socket routes. */
export function isSocketPath(path: string): boolean {
  return SOCKETS.test(path) || SOCKET.test(path);
}

/** A socket request or join, checked and ready to go once the connection is ours. */
type Opening = (socket: Socket) => void;

/**
 * Samply's socket routes, for a request that arrived as an ordinary one (node:http, or
 * node:http2's compatibility API): `GET /v1/sockets` lists (long poll) the socket tasks for
 * the caller; `POST /v1/sockets/{app}` and `GET /v1/sockets/{id}` need an upgrade, so over
 * HTTP/1.1 the connection is taken from node:http (see `take-over-socket.ts`) and over HTTP/2,
 * which cannot upgrade, they are 426. Throws task errors for the caller to answer.
 */
export async function serveSocketRoute(
  broker: TaskBroker,
  app: string,
  request: HttpRequest,
  response: HttpResponse,
  url: URL,
): Promise<void> {
  const method = request.method ?? "GET";
  if (SOCKETS.test(url.pathname)) {
    if (method !== "GET") return void sendText(response, 405, "", { allow: "GET" });
    const answer = await broker.sockets.list(app, waitCondition(url.searchParams), clientGone(response));
    return void sendJson(response, answer.partial ? 206 : 200, answer.items);
  }
  const open = openingFor(broker, app, method, url, request.headers);
  if (open === "method") return void sendText(response, 405, "", { allow: "GET, POST" });
  if (request.httpVersionMajor !== 1)
    throw new UpgradeRequiredError("HTTP/2 cannot upgrade a request: use HTTP/1.1 for /v1/sockets");
  const socket = takeOverSocket(request as IncomingMessage, response as ServerResponse);
  if (socket === undefined)
    throw new UpgradeRequiredError(
      "send Connection: upgrade with the Upgrade header (this Node cannot switch without it)",
    );
  open(socket);
}

/**
 * A listener for a server's `upgrade` event (a request with `Connection: upgrade`): serves the
 * socket routes and returns true, or returns false for any other path (the caller decides).
 */
export function socketUpgradeListener(
  broker: TaskBroker,
  options: TaskUpgradeOptions = {},
): (request: IncomingMessage, socket: Socket, head: Buffer) => boolean {
  const refusals = options.onRefused === undefined ? undefined : new RefusalReporter(options.onRefused);
  return (request, socket, head) => {
    const url = new URL(request.url ?? "/", "http://hub");
    if (!SOCKET.test(url.pathname)) return false;
    socket.on("error", () => socket.destroy());
    let app: string | undefined;
    try {
      app = broker.keys.authenticate(header(request.headers, "authorization"));
      const open = openingFor(broker, app, request.method ?? "GET", url, request.headers);
      if (open === "method") {
        writeRawAnswer(socket, { status: 405, headers: { allow: "GET, POST" }, body: "" });
        return true;
      }
      socket.pause();
      if (head.length > 0) socket.unshift(head);
      open(socket);
    } catch (error) {
      const answer = errorAnswer(error);
      if (refusals !== undefined && isReportedRefusal(answer.status)) {
        // The path without its query; the reason is the answer's (never the key it was given).
        refusals.refused({
          status: answer.status,
          code: (error as TaskError).code,
          reason: answer.body === "" ? STATUS_CODES[answer.status]! : answer.body,
          method: request.method ?? "GET",
          path: url.pathname,
          ...(socket.remoteAddress === undefined ? {} : { address: socket.remoteAddress }),
          ...(app === undefined ? {} : { identity: app }),
          transport: "upgrade",
          face: "task-sockets",
        });
      }
      writeRawAnswer(socket, answer);
    }
    return true;
  };
}

/** Options of the task API's upgrade listeners. */
export interface TaskUpgradeOptions {
  /**
   * Told of socket upgrades refused with 401 (no or a wrong application key) or 403: who
   * (address; the application once its key was accepted), what (method, path without its
   * query) and why. At most one report per kind per 10 s, with the count left out since; never
   * a header (the key is one).
   */
  onRefused?: ((refusal: HttpsRefusal) => void) | undefined;
}

/**
 * The task API's upgrades, as `listenHttps`'s `otherUpgrades` (and `listenTasksHttp`) take them:
 * true when the request was for `/v1/sockets` and is now answered; false leaves it to the next
 * handler (the listener answers 404 when nobody takes it).
 */
export function taskUpgradeListener(
  broker: TaskBroker,
  options: TaskUpgradeOptions = {},
): (request: IncomingMessage, socket: Duplex, head: Buffer) => boolean {
  const sockets = socketUpgradeListener(broker, options);
  // node:http and node:https hand over a net.Socket (a TLSSocket on https), typed as a Duplex.
  return (request, socket, head) => sockets(request, socket as Socket, head);
}

/**
 * Checks a socket request or join up to the point where the connection is needed: everything
 * that can be refused with an ordinary answer is refused here.
 */
function openingFor(
  broker: TaskBroker,
  app: string,
  method: string,
  url: URL,
  headers: IncomingHttpHeaders,
): Opening | "method" {
  const segment = decodeSegment(SOCKET.exec(url.pathname)![1]!);
  if (method !== "POST" && method !== "GET") return "method";
  if (header(headers, "upgrade") === undefined)
    throw new UpgradeRequiredError("a socket needs an Upgrade header (e.g. Upgrade: tcp)");
  if (method === "GET") {
    broker.sockets.checkJoin(app, segment);
    return (socket) => {
      try {
        broker.sockets.join(app, segment, { kind: "http", socket });
      } catch (error) {
        writeRawAnswer(socket, errorAnswer(error));
      }
    };
  }
  const metadata = parseMetadata(header(headers, "metadata"));
  broker.sockets.checkRequest(app, segment);
  return (socket) => {
    const gone = new AbortController();
    const watch = watchWaitingSender(socket, broker.limits.socketBufferBytes, (reason) =>
      gone.abort(new SocketGoneError(reason)),
    );
    broker.sockets
      .request(app, segment, metadata, { kind: "http", socket, beforeJoin: watch.stop }, gone.signal)
      .catch((error: unknown) => {
        watch.stop();
        writeRawAnswer(socket, errorAnswer(error));
      });
  };
}

/**
 * Watches a sender's connection while its socket task waits: a connection that ends or fails
 * withdraws the task at once (its sender went away). Bytes sent before the 101 are kept, up to
 * `limit` (then reading pauses), and given back when the bytes start to flow.
 */
function watchWaitingSender(
  socket: Socket,
  limit: number,
  gone: (reason: string) => void,
): { stop: () => void } {
  const early: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer): void => {
    early.push(chunk);
    size += chunk.length;
    if (size >= limit) socket.pause();
  };
  const onEnd = (): void => gone("the sender closed its connection");
  const onClose = (): void => gone("the sender's connection closed");
  socket.on("data", onData);
  socket.once("end", onEnd);
  socket.once("close", onClose);
  socket.resume();
  let stopped = false;
  return {
    stop: () => {
      if (stopped) return;
      stopped = true;
      socket.off("data", onData);
      socket.off("end", onEnd);
      socket.off("close", onClose);
      socket.pause();
      if (size > 0) socket.unshift(Buffer.concat(early));
    },
  };
}

/** The optional `metadata` header: JSON, or null when absent (Samply drops what it cannot parse; this says so). */
function parseMetadata(value: string | undefined): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new InvalidTaskError("the metadata header must be JSON", { cause: error });
  }
}
