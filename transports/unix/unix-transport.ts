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

/** What {@link closeLingering} needs of a socket: the addon's and node:net's both have it. */
interface EndableSocket {
  readonly destroyed: boolean;
  /** Bytes written but not yet taken by the kernel. */
  readonly writableLength: number;
  end(): unknown;
  destroy(): unknown;
  once(event: "close", listener: () => void): unknown;
}

/**
 * Ends `socket` so that what was written still leaves, and destroys it if the peer has not
 * closed its side within `CLOSE_LINGER_MS` — a frozen peer must not keep it open. While bytes
 * written before the end are still leaving (the peer reads, only slowly: a busy hub taking the
 * last window of a stream), it waits on: destroying then would cut off the tail of what was
 * sent, END and GOAWAY included. For the same reason the wait keeps the process alive while bytes
 * are left to write: a command that ends its session and returns must not exit before they leave.
 */
export function closeLingering(socket: EndableSocket): void {
  if (socket.destroyed) return;
  socket.end();
  let left = socket.writableLength;
  const check = (): void => {
    const now = socket.writableLength;
    if (now > 0 && now < left) {
      left = now;
      linger = setTimeout(check, CLOSE_LINGER_MS);
      return;
    }
    socket.destroy();
  };
  let linger = setTimeout(check, CLOSE_LINGER_MS);
  if (left === 0) linger.unref();
  socket.once("close", () => clearTimeout(linger));
}

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
    close: () => closeLingering(socket),
    abort: () => socket.destroy(),
    flush: () => socket.flush(),
    get bufferedBytes() {
      return socket.writableLength;
    },
    // An FdSocket drops a chunk as soon as the kernel took all of it.
    releasesChunks: true,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}
