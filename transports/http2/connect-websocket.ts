import { DEFAULT_CONFIG } from "../../wire/config.js";
import { WebSocket, type ClientOptions } from "ws";
import { type HttpsDialOptions, tlsOptionsOf } from "./client-options.js";
import { basePath, type OpenedTransport } from "./connect-http2.js";
import { withDeadline } from "./deadline.js";
import { proxiedSocket } from "./forward-proxy.js";
import { ConnectError } from "./errors.js";
import { WEBSOCKET_PATH, WEBSOCKET_PROTOCOL } from "./paths.js";
import { refusalError } from "./refusal-error.js";
import { connectFailure } from "./tls-errors.js";
import { DEFAULT_WS_MESSAGE_SIZE, webSocketTransport } from "./websocket-transport.js";
import { wsSocketPort } from "./ws-socket-port.js";

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Opens a session over a WebSocket: TLS offering only `http/1.1` in ALPN (a server that also
 * speaks HTTP/2 would otherwise pick h2, where the upgrade does not exist), an upgrade of
 * `/beamhub/v1/ws` with subprotocol `beamhub.v1`, then binary messages carrying the frames.
 */
export async function openWebSocket(
  url: URL,
  options: HttpsDialOptions,
  timeout: number,
): Promise<OpenedTransport> {
  const origin = url.origin;
  const target = `wss://${url.host}${basePath(url)}${WEBSOCKET_PATH}`;
  const maxFrameSize = options.limits?.maxFrameSize ?? DEFAULT_CONFIG.maxFrameSize;
  const tunnel = await proxiedSocket(url, options.proxy, timeout);
  const clientOptions: ClientOptions & { ALPNProtocols: string[] } = {
    ...tlsOptionsOf(url, options),
    ALPNProtocols: ["http/1.1"], // ws hands every option to tls.connect
    ...(tunnel && { socket: tunnel }), // so TLS runs inside the proxy's tunnel
    perMessageDeflate: false,
    maxPayload: maxFrameSize + 1024 * 1024,
    handshakeTimeout: timeout,
    // A zero masking key makes ws skip the XOR over every byte (RFC 6455 masking protects
    // intermediaries from scripts in browsers; this client is not one, and runs over TLS).
    generateMask: (mask: Buffer) => mask.fill(0),
    headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
  };
  const socket = new WebSocket(target, [WEBSOCKET_PROTOCOL], clientOptions);
  socket.on("error", () => undefined);
  try {
    await withDeadline<void>(
      timeout,
      () => new ConnectError(`no WebSocket to ${origin} within ${timeout} ms`),
      (resolve, reject) => {
        socket.once("open", () => resolve());
        socket.once("error", reject);
        socket.once("unexpected-response", (request, response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const done = (): void => {
            request.destroy();
            reject(refusalError(response.statusCode ?? 0, Buffer.concat(chunks).toString("utf8"), origin));
          };
          response.on("data", (chunk: Buffer) => {
            if (size < MAX_ERROR_BODY) chunks.push(chunk);
            size += chunk.byteLength;
          });
          response.once("end", done);
          response.once("error", done);
        });
      },
    );
  } catch (error) {
    socket.terminate();
    throw connectFailure(error, origin);
  }
  if (socket.protocol !== WEBSOCKET_PROTOCOL) {
    socket.terminate();
    throw new ConnectError(`${origin} did not accept the WebSocket subprotocol ${WEBSOCKET_PROTOCOL}`);
  }
  return {
    transport: webSocketTransport(
      wsSocketPort(socket),
      options.maxWebSocketMessage ?? DEFAULT_WS_MESSAGE_SIZE,
    ),
    kind: "websocket",
    dispose: () => {
      if (socket.readyState !== socket.CLOSED) {
        const timer = setTimeout(() => socket.terminate(), 1000);
        timer.unref();
        socket.once("close", () => clearTimeout(timer));
      }
    },
  };
}
