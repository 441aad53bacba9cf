import type { Socket } from "node:net";
import { loadFdAddon } from "./addon.js";
import { FdError } from "./errors.js";
import { closeFd, dupFd } from "./fd-ops.js";
import { detachFd } from "./wrap-fd.js";

/** What a finished relay moved, and why it ended. */
export interface RelayResult {
  aToB: number;
  bToA: number;
  /** The errno name if a side failed (both sides were then reset), else undefined. */
  error: string | undefined;
}

/** A running native relay. */
export interface SocketRelay {
  /** Settles when both directions have finished and both sockets are closed. */
  readonly done: Promise<RelayResult>;
  /** Ends the relay now (both sockets are shut down); idempotent. */
  stop(): void;
}

interface RelayAddon {
  relay(a: number, b: number, done: (aToB: number, bToA: number, errno: number) => void): void;
  shutdownSocket(fd: number): number;
  errnoName(errno: number): string;
}

/**
 * Joins two connected sockets in native threads (one per direction, blocking read/write), so
 * that the bytes between them never enter JavaScript: the fd hand-off of the TCP gateway uses it
 * to get close to a direct connection. Both sockets are detached from Node (their fds move to the
 * relay, which closes them when done; a socket with unread buffered data cannot be detached and
 * makes this throw, before anything changed hands). A FIN is forwarded as a FIN; an error or a
 * reset on one side resets both.
 */
export function relaySockets(a: Socket, b: Socket): SocketRelay {
  const addon = loadFdAddon() as unknown as RelayAddon;
  for (const socket of [a, b]) {
    if (socket.readableLength > 0 || socket.writableLength > 0) {
      throw new FdError("EFD_INVALID", "a socket with buffered data cannot move to a native relay");
    }
  }
  const fdA = detachFd(a);
  let fdB: number;
  try {
    fdB = detachFd(b);
  } catch (error) {
    // `a` is detached already: the relay cannot start, so its connection ends here.
    closeFd(fdA);
    throw error;
  }
  // Copies kept only to stop the relay from here: shutting a socket down wakes its threads.
  const stopA = dupFd(fdA);
  const stopB = dupFd(fdB);
  let finished = false;
  const done = new Promise<RelayResult>((resolve) => {
    addon.relay(fdA, fdB, (aToB, bToA, errno) => {
      finished = true;
      closeFd(stopA);
      closeFd(stopB);
      resolve({ aToB, bToA, error: errno === 0 ? undefined : addon.errnoName(errno) });
    });
  });
  return {
    done,
    stop: () => {
      if (finished) return;
      addon.shutdownSocket(stopA);
      addon.shutdownSocket(stopB);
    },
  };
}
