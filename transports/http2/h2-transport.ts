import { constants, type Http2Stream } from "node:http2";
import { ConnectionLostError } from "../../wire/errors.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";
import { CLOSE_STALL_MS } from "../../wire/send-backlog.js";
import { AcknowledgedClose } from "./acknowledged-close.js";
import { SendProgress } from "./send-progress.js";

const NO_FDS: readonly number[] = Object.freeze([]);

/**
 * Bytes a session may have written to its HTTP/2 stream and not yet sent before it stops
 * reading from the peer (backpressure, see `ByteTransport.write`): a peer that does not read
 * stops HTTP/2 flow control, and the hub must not go on answering it into memory.
 */
export const WRITE_HIGH_WATER_MARK = 1024 * 1024;

/**
 * A session over one HTTP/2 stream: the request body carries the client's frames, the response
 * body the server's (PROTOCOL.md, byte for byte). A batch of frames goes out as one `writev`
 * (cork/uncork), so many small frames cost one DATA frame of HTTP/2, and stream bytes are never
 * copied. HTTP/2 flow control applies underneath; the session's own per-stream credit on top.
 *
 * `close()` ends the stream after what was written and resolves once the peer ended its side
 * too (see {@link AcknowledgedClose}), or once it reset the stream because the peer took nothing
 * for `closeStallMs`. `writesUnblocked` counts the keep-alive's looks at which the connection
 * sent bytes while the stream's own were held back (see {@link SendProgress}): a peer that reads,
 * however slowly.
 */
export function http2StreamTransport(stream: Http2Stream, closeStallMs = CLOSE_STALL_MS): AbortableTransport {
  let done = false;
  /** Whether `write` returned false and `drain` is owed. */
  let owesDrain = false;
  // Bytes the connection's TLS socket handed to the kernel (the session's streams share it).
  const progress = new SendProgress(
    () => stream.session?.socket?.bytesWritten ?? 0,
    () => stream.writableNeedDrain,
  );
  const closing = new AcknowledgedClose(progress.sent, closeStallMs);
  const abort = (): void => {
    if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
  };
  return {
    supportsFds: false,
    write(chunks) {
      if (stream.destroyed || stream.writableEnded) return;
      if (chunks.length === 1) {
        stream.write(chunks[0]);
      } else {
        stream.cork();
        for (const chunk of chunks) stream.write(chunk);
        stream.uncork();
      }
      // Node's own mark (16 KiB) is far below ours, so its 'drain' comes whenever we wait.
      if (stream.writableLength < WRITE_HIGH_WATER_MARK) return true;
      owesDrain = true;
      return false;
    },
    get bufferedBytes() {
      return stream.writableLength;
    },
    get writesUnblocked() {
      return progress.look();
    },
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    start(handlers) {
      stream.on("drain", () => {
        if (!owesDrain) return;
        owesDrain = false;
        handlers.drain?.();
      });
      const closed = (error?: Error): void => {
        if (done) return;
        done = true;
        handlers.closed(error);
      };
      stream.on("data", (chunk: Buffer) => handlers.data(chunk, NO_FDS));
      stream.on("error", (error: Error) =>
        closed(new ConnectionLostError(`HTTP/2 stream failed: ${error.message}`, error)),
      );
      stream.on("aborted", () => closed(new ConnectionLostError("the HTTP/2 stream was aborted")));
      // The peer half-closed without GOAWAY: the session is over; finish ours too.
      stream.on("end", () => {
        closed(new ConnectionLostError("the peer ended the HTTP/2 stream"));
        if (!stream.writableEnded && !stream.destroyed) stream.end();
      });
      stream.on("close", () => {
        closing.connectionClosed();
        closed(
          stream.rstCode !== undefined && stream.rstCode !== 0
            ? new ConnectionLostError(`the HTTP/2 stream was reset (code ${stream.rstCode})`)
            : undefined,
        );
      });
      // The server's compatibility layer may have paused the stream; a session always reads.
      stream.resume();
    },
    close: () =>
      closing.close(() => {
        if (!stream.destroyed && !stream.writableEnded) stream.end();
      }, abort),
    // An unresponsive peer: reset the stream rather than wait for it to finish its side.
    abort,
  };
}
