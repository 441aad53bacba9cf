/**
 * The session protocol's view of a Unix socket: an {@link AbortableTransport} over an
 * {@link FdSocket}, which carries bytes and file descriptors.
 * @module
 */
import type { AbortableTransport } from "../../wire/keep-alive.js";
import { CLOSE_STALL_MS } from "../../wire/send-backlog.js";
import type { FdSocket } from "../../fd/index.js";

/**
 * How long a closed socket whose bytes have all left waits for its peer to close too before it is
 * dropped: a clean peer answers GOAWAY at once; an unresponsive one would otherwise hold the fd
 * forever. This wait never keeps the process alive.
 */
export const CLOSE_LINGER_MS = 1000;

/** What {@link closeLingering} needs of a socket: the addon's and node:net's both have it. */
interface EndableSocket {
  readonly destroyed: boolean;
  /** Bytes written but not yet taken by the kernel. */
  readonly writableLength: number;
  end(): unknown;
  destroy(): unknown;
  once(event: "close" | "finish", listener: () => void): unknown;
}

/**
 * Ends `socket` so that what was written before still leaves, and resolves once it has left: the
 * kernel took every byte (a Unix socket's bytes then reach the peer even if this process exits at
 * once) — or the socket was closed first (the peer went away, or took nothing of the bytes left
 * for `stallMs`, 10 s by default: see `CLOSE_STALL_MS`). While bytes wait to leave the wait keeps the
 * process alive, so a command that ends its session and returns does not exit before they leave.
 * Once they left, the socket waits at most {@link CLOSE_LINGER_MS} for the peer's close, without
 * holding the process, and is then dropped.
 */
export function closeLingering(socket: EndableSocket, stallMs = CLOSE_STALL_MS): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  return new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    let left = Number.POSITIVE_INFINITY;
    /** Every `stallMs` while bytes are left: drop a peer that took none of them meanwhile. */
    const stalled = (): void => {
      const now = socket.writableLength;
      if (now > 0 && now < left) {
        left = now;
        timer = setTimeout(stalled, stallMs);
        return;
      }
      socket.destroy();
    };
    socket.once("finish", () => {
      clearTimeout(timer);
      resolve();
      timer = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS).unref();
    });
    socket.once("close", () => {
      clearTimeout(timer);
      resolve();
    });
    socket.end();
    // `end()` may have finished at once (nothing queued), setting the linger above.
    if (timer === undefined && !socket.destroyed) {
      left = socket.writableLength;
      timer = setTimeout(stalled, stallMs);
    }
  });
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
    get writesUnblocked() {
      return socket.stats.writesUnblocked;
    },
    // An FdSocket drops a chunk as soon as the kernel took all of it.
    releasesChunks: true,
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}
