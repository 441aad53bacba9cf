/**
 * A Node socket joined to a byte stream end: what the socket reads is written to the stream and
 * what the stream yields is written to the socket, with backpressure both ways, half-close
 * (FIN) carried as the end of a direction and failures as resets. The gateway relays TCP
 * connections with it, and network transports carry a connected socket's descriptor with it
 * (PROTOCOL.md, "Descriptors on network transports").
 */
import type { Socket } from "node:net";
import type { ByteStream } from "../model/byte-stream.js";
import { StreamResetError } from "../model/errors.js";

/**
 * Aborts a socket with a TCP reset (RST) when it can, so the peer sees a reset rather than a
 * clean end; falls back to `destroy()`. A socket whose write side already ended cannot be reset
 * (libuv refuses with EINVAL once a shutdown is under way, and Node would emit that as an
 * error), so it is destroyed.
 */
export function resetSocket(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.writableEnded) return void socket.destroy();
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

/**
 * Relays bytes between `socket` and `stream` until both directions finished or either side was
 * reset; resolves when the socket has closed. The socket's `end` ends the stream's sending
 * direction (half-close); the stream's end ends the socket; a socket error resets the stream and
 * a stream reset resets the socket. Sets the socket's `allowHalfOpen` and resumes it. The
 * stream is driven through its port (`ByteStream.openPort`); one already in use is reset.
 */
export function spliceSocketStream(socket: Socket, stream: ByteStream): Promise<void> {
  socket.allowHalfOpen = true;
  let ended = false;
  const fail = (reason: unknown): void => {
    if (!socket.destroyed) resetSocket(socket);
    stream.reset(
      reason instanceof StreamResetError ? reason : new StreamResetError("the TCP connection failed", reason),
    );
  };
  const closed = new Promise<void>((resolve) => {
    socket.once("close", () => {
      // A socket that closed before its peer's FIN arrived was torn down, not finished.
      if (!ended) stream.reset(new StreamResetError("the TCP connection closed"));
      resolve();
    });
  });
  const port = stream.openPort();
  if (port === undefined) {
    fail(new StreamResetError("the byte stream was already in use"));
    return closed;
  }

  // stream → socket, pausing the stream while the socket's buffer is full.
  port.start({
    data: (chunk) => {
      if (!socket.destroyed && !socket.write(chunk)) port.pause();
    },
    end: () => socket.end(),
    drain: () => socket.resume(),
    reset: () => resetSocket(socket),
  });
  socket.on("drain", () => port.resume());

  // socket → stream, pausing the socket while the stream is full.
  socket.on("data", (chunk: Buffer) => {
    if (!port.write(chunk)) socket.pause();
  });
  socket.on("end", () => {
    ended = true;
    port.end();
  });
  socket.on("error", fail);
  socket.resume();
  return closed;
}

/**
 * Joins two sockets: bytes both ways with backpressure (`pipe`), FIN forwarded as FIN, and an
 * error or reset on either side resets the other. Resolves when both have closed.
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
