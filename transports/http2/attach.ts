import type { Server as HttpsServer } from "node:https";
import type { IncomingMessage } from "node:http";
import type {
  Http2SecureServer,
  IncomingHttpHeaders,
  ServerHttp2Session,
  ServerHttp2Stream,
} from "node:http2";
import type { Duplex } from "node:stream";
import type { Socket } from "node:net";
import type { EndpointHandlers } from "./acceptor.js";
import { HttpsEndpoint, type EndpointRequest, type EndpointResponse } from "./endpoint.js";
import type { EndpointOptions } from "./options.js";
import { http2Settings } from "./tuning.js";

/** beamhub's endpoint attached to a server; `detach()` gives the server back as it was. */
export interface AttachedEndpoint {
  /** Sessions open right now. */
  readonly sessionCount: number;
  /** TCP connections open right now (counted since attaching). */
  readonly connectionCount: number;
  /** Ends every beamhub session and removes beamhub's listeners (the server keeps running). */
  detach(reason?: string): Promise<void>;
}

type RequestListener = (request: EndpointRequest, response: EndpointResponse) => void;
type UpgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer) => void;
type EventListener = Parameters<NodeJS.EventEmitter["on"]>[1];
type StreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, ...rest: unknown[]) => void;

/**
 * Serves beamhub sessions (handed to `handlers.accept`) and plain requests (to
 * `handlers.requests`) on an existing `http2.createSecureServer` (use `allowHTTP1: true` for the
 * WebSocket fallback and HTTP/1.1 clients) or `https.createServer` (WebSocket sessions and
 * plain requests only). Requests under `/beamhub/v1/` are beamhub's; every other
 * request and upgrade goes to the listeners the server already had, so REST routes keep
 * working side by side. Attach after adding your own `request` listeners. On an HTTP/2 server
 * it raises the stream window and `maxConcurrentStreams` (see tuning.ts).
 */
export function attachHttpsSessions(
  server: Http2SecureServer | HttpsServer,
  handlers: EndpointHandlers,
  options: EndpointOptions = {},
): AttachedEndpoint {
  const endpoint = new HttpsEndpoint(handlers, options);
  const emitter = server as unknown as NodeJS.EventEmitter;
  const previousRequest = emitter.listeners("request") as RequestListener[];
  const previousUpgrade = emitter.listeners("upgrade") as UpgradeListener[];
  emitter.removeAllListeners("request");
  emitter.removeAllListeners("upgrade");

  const onRequest: RequestListener = (request, response) => {
    endpoint.watchRefusal(request, response);
    if (endpoint.handleRequest(request, response)) return;
    if (previousRequest.length === 0) {
      // A server that routes HTTP/2 with `stream` listeners answers its own streams (the
      // compatibility layer adds one listener of its own).
      if ("stream" in request && emitter.listenerCount("stream") > 1) return endpoint.passedOn(request);
      endpoint.establishWhenComplete(request);
      response.writeHead(404, { "content-type": "text/plain" });
      response.end("not found\n");
      return;
    }
    endpoint.passedOn(request);
    for (const listener of previousRequest) listener.call(server, request, response);
  };
  const onUpgrade: UpgradeListener = (request, socket, head) => {
    if (endpoint.handleUpgrade(request, socket, head)) return;
    if (previousUpgrade.length === 0) {
      // Nobody else takes upgrades here: say so, as a plain request to such a path would hear.
      socket.end(
        "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 10\r\nConnection: close\r\n\r\nnot found\n",
      );
      socket.once("finish", () => socket.destroy());
      return;
    }
    endpoint.passedOn(request);
    for (const listener of previousUpgrade) listener.call(server, request, socket, head);
  };
  // Below TLS: caps and the deadline see every TCP connection, whatever it then speaks.
  const onConnection = (socket: Socket): void => endpoint.connection(socket);
  const onSession = (session: ServerHttp2Session): void => endpoint.http2Session(session);

  emitter.on("request", onRequest);
  emitter.on("upgrade", onUpgrade);
  emitter.on("connection", onConnection);
  emitter.on("session", onSession);
  if ("updateSettings" in server) server.updateSettings(http2Settings());
  // Plain calls over HTTP/2 are read from their streams (the core API): the compatibility
  // layer's `stream` listener (which Node adds with the first `request` listener) makes a
  // request and a response object for every stream, which those calls do without (issue 19).
  // It still takes every other stream, and all of them while anyone else listens to `request`
  // (it would tell them too).
  const compatibility = emitter.listeners("stream").find(isCompatibilityListener) as
    StreamListener | undefined;
  const onStream: StreamListener = (stream, headers, ...rest) => {
    if (emitter.listenerCount("request") === 1 && endpoint.handleStream(stream, headers)) return;
    compatibility!.call(server, stream, headers, ...rest);
  };
  if (compatibility !== undefined) replaceListener(emitter, "stream", compatibility, onStream);

  return {
    get sessionCount() {
      return endpoint.sessionCount;
    },
    get connectionCount() {
      return endpoint.connectionCount;
    },
    async detach(reason) {
      if (compatibility !== undefined) replaceListener(emitter, "stream", onStream, compatibility);
      emitter.off("request", onRequest);
      emitter.off("upgrade", onUpgrade);
      emitter.off("connection", onConnection);
      emitter.off("session", onSession);
      for (const listener of previousRequest) emitter.on("request", listener);
      for (const listener of previousUpgrade) emitter.on("upgrade", listener);
      await endpoint.close(reason);
    },
  };
}

/**
 * The `stream` listener `node:http2`'s compatibility layer adds (a bound `onServerStream`), which
 * makes each stream's `Http2ServerRequest` and `Http2ServerResponse`. Known by its name: a Node
 * that names it otherwise leaves every stream to it, as before (slower, not wrong).
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-function-type -- what `listeners()` returns
function isCompatibilityListener(listener: Function): boolean {
  return listener.name === "bound onServerStream";
}

/**
 * Puts `by` where `listener` was among `event`'s listeners (their order is kept, and `once`
 * listeners stay `once`: their wrappers are put back as they were).
 */
function replaceListener(
  emitter: NodeJS.EventEmitter,
  event: string,
  listener: EventListener,
  by: EventListener,
): void {
  const listeners = emitter.rawListeners(event) as EventListener[];
  emitter.removeAllListeners(event);
  for (const each of listeners) emitter.on(event, each === listener ? by : each);
}
