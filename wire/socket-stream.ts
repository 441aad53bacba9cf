/**
 * A Node socket joined to a byte stream end: what the socket reads is written to the stream and
 * what the stream yields is written to the socket, with backpressure both ways, half-close
 * (FIN) carried as the end of a direction and failures as resets. The gateway relays TCP
 * connections with it, and network transports carry a connected socket's descriptor with it
 * (PROTOCOL.md, "Descriptors on network transports").
 */
import type { Socket } from "node:net";
import type { ByteStream } from "../hub/byte-stream.js";
import { StreamResetError } from "../hub/errors.js";

/**
 * Aborts a socket with a TCP reset (RST) when it can, so the peer sees a reset rather than a
 * clean end; falls back to `destroy()`.
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Relays bytes between `socket` and `stream` until both directions finished or either side was
 * reset; resolves when the socket has closed. The socket's `end` closes the stream's writable
 * (half-close); the stream's end ends the socket; a socket error resets the stream and a stream
 * reset resets the socket. The socket must have `allowHalfOpen` set.
 */
export function spliceSocketStream(socket: Socket, stream: ByteStream): Promise<void> {
  socket.allowHalfOpen = true;
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  let ended = false;

  const fail = (reason: unknown): void => {
    if (!socket.destroyed) resetSocket(socket);
    stream.reset(
      reason instanceof StreamResetError ? reason : new StreamResetError("the TCP connection failed", reason),
    );
  };

  // socket → stream, pausing the socket while the stream is full.
  socket.on("data", (chunk: Buffer) => {
    writer.write(chunk).catch(fail);
    if ((writer.desiredSize ?? 1) <= 0 && !socket.isPaused()) {
      socket.pause();
      writer.ready.then(
        () => socket.resume(),
        () => undefined,
      );
    }
  });
  socket.on("end", () => {
    ended = true;
    writer.close().catch(() => undefined);
  });
  socket.on("error", fail);

  // stream → socket, waiting for `drain` when the socket's buffer is full.
  const pump = async (): Promise<void> => {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (socket.destroyed) return;
      if (!socket.write(value)) await drained(socket);
    }
    socket.end();
  };
  pump().catch(fail);

  const closed = new Promise<void>((resolve) => {
    socket.once("close", () => {
      // A socket that closed before its peer's FIN arrived was torn down, not finished.
      if (!ended) stream.reset(new StreamResetError("the TCP connection closed"));
      reader.cancel().catch(() => undefined);
      resolve();
    });
  });
  socket.resume();
  return closed;
}

function drained(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off("drain", done);
      socket.off("close", done);
      resolve();
    };
    socket.on("drain", done);
    socket.on("close", done);
  });
}
