/**
 * The session protocol's view of a Unix socket: an {@link AbortableTransport} over an
 * {@link FdSocket}, which carries bytes and file descriptors.
 * @module
 */
import type { AbortableTransport } from "../../wire/keep-alive.js";
import type { FdSocket } from "../../fd/index.js";

/**
 * How long a closed socket waits for its peer to close too before it is dropped: a clean peer
 * answers GOAWAY at once; an unresponsive one would otherwise hold the fd forever.
 */
export const CLOSE_LINGER_MS = 1000;

/** The session protocol's view of an FdSocket. */
export function transportFor(socket: FdSocket): AbortableTransport {
  return {
    supportsFds: true,
    // false above the socket's high-water mark (1 MiB); its 'drain' follows.
    write: (chunks, fds) => socket.write(chunks, fds),
    start: (handlers) => {
      socket.on("data", (data, fds) => handlers.data(data, fds));
      socket.on("error", (error) => handlers.closed(error));
      socket.on("close", () => handlers.closed());
      socket.on("drain", () => handlers.drain?.());
    },
    close: () => {
      if (socket.destroyed) return;
      socket.end();
      const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
      linger.unref();
      socket.once("close", () => clearTimeout(linger));
    },
    abort: () => socket.destroy(),
    flush: () => socket.flush(),
    get bufferedBytes() {
      return socket.writableLength;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}
