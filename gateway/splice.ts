/**
 * Byte plumbing of the gateway: a TCP socket joined to a hub byte stream (relay) or to another
 * TCP socket (after an fd hand-off). Both propagate half-close (FIN) and resets (RST) faithfully
 * and respect backpressure in both directions.
 */
import type { Socket } from "node:net";
import { type ByteStream, StreamResetError } from "../hub/index.js";

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

/**
 * Joins two TCP sockets: bytes both ways with backpressure (`pipe`), FIN forwarded as FIN, and
 * an error or reset on either side resets the other. Resolves when both have closed.
 */
export function spliceSockets(a: Socket, b: Socket): Promise<void> {
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  const wire = (from: Socket, to: Socket): Promise<void> => {
    from.on("error", () => resetSocket(to));
    from.pipe(to, { end: true });
    return new Promise((resolve) =>
      from.once("close", (hadError) => {
        // Closed without finishing (destroyed locally or reset): the other side must not hang.
        if (hadError || !from.readableEnded) resetSocket(to);
        resolve();
      }),
    );
  };
  return Promise.all([wire(a, b), wire(b, a)]).then(() => undefined);
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
