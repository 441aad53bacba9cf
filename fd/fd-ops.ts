/**
 * Small fd helpers on top of the addon: inspect, duplicate, close, and create socket pairs.
 * Every fd they create is close-on-exec. All throw {@link FdUnavailableError} when the addon is
 * missing and {@link FdSocketError} (`ESOCKET`, with `errno`) when the system call fails.
 * @module
 */
import { type FdKind, loadFdAddon } from "./addon.js";
import { FdSocketError } from "./errors.js";

/**
 * Builds the error for a failed system call from the addon's negative errno.
 * @internal
 */
export function syscallError(syscall: string, negativeErrno: number, path?: string): FdSocketError {
  const addon = loadFdAddon();
  const errno = addon.errnoName(-negativeErrno);
  const where = path === undefined ? "" : ` ${path}`;
  return new FdSocketError(
    "ESOCKET",
    `${syscall}${where} failed: ${errno} (${addon.strerror(-negativeErrno)})`,
    {
      errno,
      syscall,
      ...(path === undefined ? {} : { path }),
    },
  );
}

/**
 * What an fd refers to: `file`, `directory`, `pipe`, `char`, `block`, `tcp`, `tcp-listener`,
 * `udp`, `unix`, `unix-listener`, `unix-dgram`, `unix-seqpacket` or `unknown` (fstat plus
 * SO_TYPE / SO_DOMAIN / SO_ACCEPTCONN).
 */
export function fdKind(fd: number): FdKind {
  const kind = loadFdAddon().fdKind(fd);
  if (typeof kind === "number") throw syscallError("fstat", kind);
  return kind;
}

/** How an fd was opened: `"r"`, `"w"` or `"rw"` (its O_ACCMODE). */
export function fdAccessMode(fd: number): "r" | "w" | "rw" {
  const mode = loadFdAddon().accessMode(fd);
  if (mode < 0) throw syscallError("fcntl", mode);
  return mode === 0 ? "r" : mode === 1 ? "w" : "rw";
}

/**
 * A new fd (close-on-exec) for the same open file description. Use it to keep your own
 * reference when handing an fd to something that takes ownership (e.g. `FdSocket.write`).
 */
export function dupFd(fd: number): number {
  const copy = loadFdAddon().dup(fd);
  if (copy < 0) throw syscallError("dup", copy);
  return copy;
}

/** Closes an fd you own. */
export function closeFd(fd: number): void {
  const r = loadFdAddon().close(fd);
  if (r < 0) throw syscallError("close", r);
}

/** Closes fds, ignoring errors (for cleanup paths). */
export function closeFdsQuietly(fds: Iterable<number>): void {
  const addon = loadFdAddon();
  for (const fd of fds) addon.close(fd);
}

/**
 * A connected pair of Unix stream sockets (close-on-exec, blocking until adopted). This is what a
 * hub hands to two peers for a direct channel: each gets one end (send it with
 * `FdSocket.write(..., [end])`, which takes ownership) and adopts it with `FdSocket.fromFd`, or
 * as a plain `net.Socket` through `wrapFd` if no fds will travel on it.
 */
export function socketPair(): [number, number] {
  const pair = loadFdAddon().socketpair();
  if (typeof pair === "number") throw syscallError("socketpair", pair);
  return pair;
}
