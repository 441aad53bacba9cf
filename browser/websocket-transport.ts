import type { ByteTransport, TransportHandlers } from "../wire/connection.js";
import { ConnectionLostError } from "../wire/errors.js";

/**
 * The part of the browser's `WebSocket` this client uses. Declared here rather than taken from
 * the DOM lib so the core's Node type-check stays free of DOM types; the browser's `WebSocket`
 * (and `ws`'s, which has the same event API) fit it.
 */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
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

/** Close codes a session uses (as transports/http2/ws-transport.ts). */
export const WS_NORMAL = 1000;
export const WS_UNSUPPORTED_DATA = 1003;

/** Default largest WebSocket message sent (the server accepts its `maxFrameSize` + 1 MiB). */
export const DEFAULT_WS_MESSAGE_SIZE = 1024 * 1024;

/** Batches up to this size are joined into one message; larger ones go chunk by chunk. */
const COPY_LIMIT = 64 * 1024;

const NO_FDS: readonly number[] = Object.freeze([]);

/**
 * A session over a browser WebSocket: binary messages carry the PROTOCOL.md byte stream, as on
 * the server (transports/http2/ws-transport.ts). Message boundaries carry no meaning, so a
 * large batch is sent as several messages of at most `maxMessage` bytes (browsers cannot send
 * fragments). Messages that arrive before `start` are kept. A text message fails the session
 * (close code 1003). Browsers copy what `send` is given, so chunks are never retained.
 */
export function browserWebSocketTransport(
  socket: WebSocketLike,
  maxMessage = DEFAULT_WS_MESSAGE_SIZE,
): ByteTransport {
  let handlers: TransportHandlers | undefined;
  let early: Uint8Array[] | undefined = [];
  let earlyClose: { error: Error | undefined } | undefined;
  let done = false;
  const closed = (error?: Error): void => {
    if (done) return;
    if (handlers === undefined) {
      earlyClose ??= { error };
      return;
    }
    done = true;
    handlers.closed(error);
  };
  const data = (chunk: Uint8Array): void => {
    if (done) return;
    if (handlers === undefined) early?.push(chunk);
    else handlers.data(chunk, NO_FDS);
  };

  socket.binaryType = "arraybuffer";
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) {
      data(new Uint8Array(event.data));
      return;
    }
    closed(
      new ConnectionLostError("the peer sent a text WebSocket message (only binary frames are allowed)"),
    );
    socket.close(WS_UNSUPPORTED_DATA, "binary messages only");
  });
  // The browser's error event carries no detail; the close event that follows has the code.
  socket.addEventListener("close", (event) =>
    closed(
      event.code === WS_NORMAL
        ? undefined
        : new ConnectionLostError(
            `the WebSocket closed (code ${event.code}${event.reason.length > 0 ? `: ${event.reason}` : ""})`,
          ),
    ),
  );

  return {
    supportsFds: false,
    write(chunks) {
      if (socket.readyState !== OPEN) return;
      let total = 0;
      for (const chunk of chunks) total += chunk.byteLength;
      if (total <= COPY_LIMIT) {
        socket.send(chunks.length === 1 ? chunks[0]! : join(chunks, total));
        return;
      }
      for (const chunk of chunks) {
        for (let offset = 0; offset < chunk.byteLength; offset += maxMessage) {
          socket.send(
            offset === 0 && chunk.byteLength <= maxMessage
              ? chunk
              : chunk.subarray(offset, offset + maxMessage),
          );
        }
      }
    },
    start(given) {
      handlers = given;
      const pending = early ?? [];
      early = undefined;
      for (const chunk of pending) data(chunk);
      if (earlyClose !== undefined) closed(earlyClose.error);
    },
    close() {
      if (socket.readyState === OPEN || socket.readyState === CONNECTING) socket.close(WS_NORMAL);
    },
  };
}

function join(chunks: Uint8Array[], total: number): Uint8Array {
  const joined = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
