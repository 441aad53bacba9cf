import type { ByteTransport } from "../wire/connection.js";
import {
  DEFAULT_WS_MESSAGE_SIZE,
  webSocketTransport,
  type WebSocketPort,
} from "../transports/http2/websocket-transport.js";

export { DEFAULT_WS_MESSAGE_SIZE };

/**
 * The part of the browser's `WebSocket` this client uses. Declared here rather than taken from
 * the DOM lib so the core's Node type-check stays free of DOM types; the browser's `WebSocket`
 * (and `ws`'s, which has the same event API) fit it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  readonly bufferedAmount: number;
  binaryType: string;
  send(data: Uint8Array): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "open" | "error", listener: () => void): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(type: "close", listener: (event: { code: number; reason: string }) => void): void;
}

export type WebSocketConstructor = new (url: string, protocols: string[]) => WebSocketLike;

/** WebSocket ready states (the spec's numbers, the same in every implementation). */
export const CONNECTING = 0;
export const OPEN = 1;

/**
 * A browser's WebSocket as the session transport's port (transports/http2/websocket-transport.ts,
 * the same one Node's sessions use): browsers cannot send fragments, so each piece of a large
 * batch is a message of its own; they copy what `send` is given, and do not say when it was
 * written (so no backpressure); their error event carries no detail, the close event that
 * follows has the code.
 */
function browserSocketPort(socket: WebSocketLike): WebSocketPort {
  return {
    get isOpen() {
      return socket.readyState === OPEN;
    },
    get canClose() {
      return socket.readyState === OPEN || socket.readyState === CONNECTING;
    },
    reportsWrites: false,
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (piece) => socket.send(piece),
    close: (code, reason) => socket.close(code, reason),
    listen(events) {
      socket.binaryType = "arraybuffer";
      socket.addEventListener("message", (event) => {
        if (event.data instanceof ArrayBuffer) events.binary(new Uint8Array(event.data));
        else events.text();
      });
      socket.addEventListener("close", (event) => events.closed(event.code, event.reason));
    },
  };
}

/**
 * A session over a browser WebSocket: binary messages carry the PROTOCOL.md byte stream, as on
 * the server. Message boundaries carry no meaning, so a large batch is sent as several messages
 * of at most `maxMessage` bytes. Messages that arrive before `start` are kept. A text message
 * fails the session (close code 1003).
 */
export function browserWebSocketTransport(
  socket: WebSocketLike,
  maxMessage = DEFAULT_WS_MESSAGE_SIZE,
): ByteTransport {
  return webSocketTransport(browserSocketPort(socket), maxMessage);
}
