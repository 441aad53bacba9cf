import type { WebSocket } from "ws";
import { ConnectionLostError } from "../../wire/errors.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";

const NO_FDS: readonly number[] = Object.freeze([]);

/** Batches up to this size are copied into one message; larger ones go as fragments. */
const COPY_LIMIT = 64 * 1024;

/** Default largest WebSocket message either side sends (and the server accepts, plus slack). */
export const DEFAULT_WS_MESSAGE_SIZE = 1024 * 1024;

/** Bytes handed to ws and not yet written to the socket at which a session stops reading the peer. */
export const WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** ...and at which it reads again. */
const WRITE_LOW_WATER_MARK = WRITE_HIGH_WATER_MARK / 2;

/** WebSocket close codes a session uses. */
export const WS_NORMAL = 1000;
export const WS_UNSUPPORTED_DATA = 1003;

/**
 * A session over a WebSocket: binary messages carry the PROTOCOL.md byte stream. A batch of
 * frames is normally one message; a batch larger than `maxMessage` is cut into several (the
 * receiver parses a byte stream, so message boundaries carry no meaning and a frame may span
 * messages). Big batches go out as fragments of one message, without copying the chunks.
 * A text message is a protocol error (close code 1003).
 */
export function webSocketTransport(
  socket: WebSocket,
  maxMessage = DEFAULT_WS_MESSAGE_SIZE,
): AbortableTransport {
  let done = false;
  const open = (): boolean => socket.readyState === socket.OPEN;
  // ws has no 'drain': the bytes handed to it and not yet written to the socket are counted
  // here, each send's callback (the socket took it) taking its bytes off.
  let buffered = 0;
  let owesDrain = false;
  let onDrain: (() => void) | undefined;
  const sent = (bytes: number) => () => {
    buffered -= bytes;
    if (owesDrain && buffered <= WRITE_LOW_WATER_MARK) {
      owesDrain = false;
      onDrain?.();
    }
  };
  return {
    supportsFds: false,
    write(chunks) {
      if (!open()) return;
      let total = 0;
      for (const chunk of chunks) total += chunk.byteLength;
      buffered += total;
      if (total <= COPY_LIMIT) {
        const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total);
        socket.send(data, { binary: true }, sent(total));
      } else {
        sendFragmented(socket, chunks, total, maxMessage, sent(total));
      }
      if (buffered < WRITE_HIGH_WATER_MARK) return true;
      owesDrain = true;
      return false;
    },
    get bufferedBytes() {
      return buffered;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    start(handlers) {
      onDrain = () => handlers.drain?.();
      const closed = (error?: Error): void => {
        if (done) return;
        done = true;
        handlers.closed(error);
      };
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (!isBinary) {
          closed(
            new ConnectionLostError(
              "the peer sent a text WebSocket message (only binary frames are allowed)",
            ),
          );
          socket.close(WS_UNSUPPORTED_DATA, "binary messages only");
          return;
        }
        handlers.data(data, NO_FDS);
      });
      socket.on("error", (error: Error) =>
        closed(new ConnectionLostError(`WebSocket failed: ${error.message}`, error)),
      );
      socket.on("close", (code: number, reason: Buffer) =>
        closed(
          code === WS_NORMAL
            ? undefined
            : new ConnectionLostError(
                `the WebSocket closed (code ${code}${reason.length > 0 ? `: ${reason.toString()}` : ""})`,
              ),
        ),
      );
    },
    close() {
      if (socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING)
        socket.close(WS_NORMAL);
    },
    // An unresponsive peer would never answer the closing handshake: drop the TCP connection.
    abort() {
      socket.terminate();
    },
  };
}

/** Sends `chunks` as messages of at most `maxMessage` bytes, each made of zero-copy fragments. */
function sendFragmented(
  socket: WebSocket,
  chunks: Uint8Array[],
  total: number,
  maxMessage: number,
  done: () => void,
): void {
  let inMessage = 0;
  let remaining = total;
  for (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - offset, maxMessage - inMessage);
      const piece = offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take);
      offset += take;
      inMessage += take;
      remaining -= take;
      const fin = remaining === 0 || inMessage === maxMessage;
      // The last piece's callback comes after every earlier one's (one socket, in order).
      socket.send(piece, { binary: true, fin }, remaining === 0 ? done : undefined);
      if (fin) inMessage = 0;
    }
  }
}
