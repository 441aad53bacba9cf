/**
 * Turning raw fds into Node objects and back.
 *
 * {@link wrapFd} gives a received fd its natural Node type:
 * | kind | result |
 * |---|---|
 * | `tcp`, `unix` (connected stream) | `socket`: a `net.Socket` |
 * | `pipe` | `socket`: a `net.Socket`, readable or writable by the fd's access mode |
 * | `tcp-listener`, `unix-listener` | `server`: a listening `net.Server` (add `'connection'` listeners) |
 * | anything else (`file`, `directory`, `char`, `udp`, ...) | `handle`: an {@link OwnedFd} |
 *
 * Node has no public way to make a `fs.promises.FileHandle` (or a `dgram.Socket`) from an
 * existing fd, so files stay plain fds: use `fs.readSync(fd, ...)`, `fs.fstatSync(fd)`,
 * `fs.createReadStream("", { fd })` (which then owns and closes the fd), or `handle.close()`.
 * Reopening `/proc/self/fd/N` would give a real FileHandle, but it re-checks permissions (the
 * receiver may not be allowed to open the file, which is often the point of passing the fd) and
 * gets its own file offset, so it is not done here.
 *
 * Rules (from measuring what breaks):
 * - `wrapFd` takes ownership of the fd: do not close it or wrap it again. To keep using an fd
 *   elsewhere, wrap a {@link dupFd} of it. If `wrapFd` throws, the caller still owns the fd.
 * - {@link detachFd} is how a sender hands over its own `net.Socket`/`net.Server`: it dups the fd
 *   and then `destroy()`s (never `end()`s) the original, so no FIN reaches the peer and the
 *   connection lives on in the dup. For a Unix `net.Server` it also keeps the socket file, which
 *   libuv would otherwise unlink on close (a hard link is kept across the close and renamed back,
 *   so the path is missing for a moment within one synchronous call).
 * @module
 */
import { linkSync, renameSync } from "node:fs";
import net from "node:net";
import tls from "node:tls";
import { type FdKind } from "./addon.js";
import { FdError } from "./errors.js";
import { closeFd, dupFd, fdAccessMode, fdKind } from "./fd-ops.js";

/** An fd with no better Node type; close it when done (idempotent). */
export class OwnedFd {
  #fd: number;

  constructor(
    /** What the fd refers to. */
    readonly kind: FdKind,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** The fd number, or -1 after {@link close}. */
  get fd(): number {
    return this.#fd;
  }

  /** Closes the fd (once). */
  close(): void {
    if (this.#fd < 0) return;
    const fd = this.#fd;
    this.#fd = -1;
    closeFd(fd);
  }
}

/** The result of {@link wrapFd}. */
export type WrappedFd =
  | { kind: "tcp" | "unix" | "pipe"; socket: net.Socket }
  | { kind: "tcp-listener" | "unix-listener"; server: net.Server }
  | { kind: Exclude<FdKind, "tcp" | "unix" | "pipe" | "tcp-listener" | "unix-listener">; handle: OwnedFd };

/** Options of {@link wrapFd}. */
export interface WrapFdOptions {
  /** For sockets: passed to `net.Socket` (default false). */
  allowHalfOpen?: boolean;
  /** For listeners: passed to `net.createServer` (e.g. `pauseOnConnect` to hand connections on). */
  server?: net.ServerOpts;
}

/**
 * Wraps an fd you own in its natural Node type (see the module table) and hands ownership to
 * the result. `kind` skips the fstat when already known.
 * @throws {FdError} `EFD_INVALID` if Node refuses the fd (ownership then stays with the caller).
 */
export function wrapFd(fd: number, kind: FdKind = fdKind(fd), options: WrapFdOptions = {}): WrappedFd {
  try {
    switch (kind) {
      case "tcp":
      case "unix":
        return {
          kind,
          socket: new net.Socket({
            fd,
            readable: true,
            writable: true,
            allowHalfOpen: options.allowHalfOpen,
          }),
        };
      case "pipe": {
        const mode = fdAccessMode(fd);
        const socket = new net.Socket({ fd, readable: mode !== "w", writable: mode !== "r" });
        return { kind, socket };
      }
      case "tcp-listener":
      case "unix-listener":
        return { kind, server: net.createServer(options.server ?? {}).listen({ fd }) };
      default:
        return { kind, handle: new OwnedFd(kind, fd) };
    }
  } catch (error) {
    if (error instanceof FdError) throw error;
    throw new FdError("EFD_INVALID", `cannot wrap fd ${fd} (${kind}): ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Takes the fd out of a connected `net.Socket` or a listening `net.Server` so it can be sent:
 * returns a dup (close-on-exec) and destroys/closes the original without a FIN. For sockets
 * accepted to be handed on, create the server with `pauseOnConnect: true` (or detach
 * synchronously in the `'connection'` handler), so Node has not read any of the data yet.
 * @throws {FdError} `EFD_INVALID` if there is no fd (TLS socket, not connected/listening, closed)
 *   or the socket holds unread or unsent data that would be lost.
 */
export function detachFd(target: net.Socket | net.Server): number {
  if (target instanceof tls.TLSSocket) {
    throw new FdError(
      "EFD_INVALID",
      "a TLS socket cannot be handed over (its TLS state lives in this process)",
    );
  }
  const handle = (target as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  if (typeof fd !== "number" || fd < 0) {
    throw new FdError("EFD_INVALID", "no open fd to detach (not connected or listening, or already closed)");
  }
  if (target instanceof net.Socket && (target.readableLength > 0 || target.writableLength > 0)) {
    throw new FdError(
      "EFD_INVALID",
      "the socket has buffered data that would be lost; detach before reading/writing",
    );
  }
  const copy = dupFd(fd);
  if (target instanceof net.Socket) {
    target.destroy();
    return copy;
  }
  const address = target.address();
  if (typeof address !== "string" || address === "" || address.startsWith("\0")) {
    target.close();
    return copy;
  }
  // libuv unlinks a Unix server's socket file when the server closes, which would make the
  // listener we hand over unreachable. Keep a hard link across the close and put it back.
  const keep = `${address}.detach-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    linkSync(address, keep);
  } catch (error) {
    closeFd(copy);
    throw new FdError("EFD_INVALID", `cannot keep ${address} across the close: ${(error as Error).message}`, {
      cause: error,
    });
  }
  target.close();
  renameSync(keep, address);
  return copy;
}
