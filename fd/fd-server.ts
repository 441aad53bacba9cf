/**
 * {@link FdServer}: a listening Unix socket whose connections are {@link FdSocket}s.
 *
 * - Permissions are deliberate: the socket file gets `mode` (default 0600, owner only). The socket
 *   inode gets the mode before `bind`, so the file is never more permissive, even briefly.
 * - A stale socket file (left by a crashed server) is replaced: if connecting to it is refused,
 *   it is unlinked and bound again. If a live server answers, listening fails with
 *   `EADDRINUSE` (the probe connection is closed at once; the live server sees a connection that
 *   ends without a byte). A path that exists but is not a socket is never removed.
 * - `close()` unlinks the socket file, but only if it is still the one this server created.
 * @module
 */
import { EventEmitter } from "node:events";
import { lstatSync, unlinkSync } from "node:fs";
import { constants } from "node:os";
import { type FdAddon, type NativeChannel, loadFdAddon } from "./addon.js";
import { FdError, FdSocketError } from "./errors.js";
import { syscallError } from "./fd-ops.js";
import { FdSocket, type FdSocketOptions } from "./fd-socket.js";

const { EADDRINUSE, EAGAIN, ECONNREFUSED, ENOENT } = constants.errno;
const TRANSIENT_ACCEPT_ERRORS = new Set(["EMFILE", "ENFILE", "ENOBUFS", "ENOMEM"]);

/** Options of {@link FdServer.listen}; the socket options apply to accepted connections. */
export interface FdServerOptions extends FdSocketOptions {
  /** Permission bits of the socket file. Default 0o600. */
  mode?: number;
  /** `listen()` backlog. Default 511. */
  backlog?: number;
  /** Shorthand for a `'connection'` listener. */
  onConnection?: (socket: FdSocket) => void;
}

/** Events of an {@link FdServer}. */
export interface FdServerEvents {
  /** An accepted connection; the listener owns it. Without listeners it is destroyed. */
  connection: [socket: FdSocket];
  /** An accept failure. Only emitted when someone listens; the server keeps going. */
  error: [error: FdError];
  /** The server stopped listening. */
  close: [];
}

/** A listening Unix stream socket that accepts {@link FdSocket}s. */
export class FdServer extends EventEmitter<FdServerEvents> {
  /** The socket path. */
  readonly path: string;
  readonly #addon: FdAddon;
  readonly #native: NativeChannel;
  readonly #options: FdSocketOptions;
  readonly #inode: { dev: number; ino: number } | undefined;
  #closed = false;
  #pauseTimer: NodeJS.Timeout | undefined;

  private constructor(addon: FdAddon, path: string, fd: number, options: FdServerOptions) {
    super();
    this.path = path;
    this.#addon = addon;
    this.#options = options;
    try {
      const st = lstatSync(path);
      this.#inode = { dev: st.dev, ino: st.ino };
    } catch {
      this.#inode = undefined;
    }
    if (options.onConnection !== undefined) this.on("connection", options.onConnection);
    try {
      this.#native = new addon.Channel(fd, true, 1, {
        onConnection: (client) => this.#onConnection(client),
        onError: (code, message, syscall) => this.#onError(code, message, syscall),
      });
    } catch (error) {
      addon.close(fd);
      this.#unlinkIfOurs();
      throw new FdError("EFD_INVALID", `cannot poll the listening socket: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Listens on a Unix socket path, replacing a stale socket file.
   * @throws {FdSocketError} `EADDRINUSE` if a live server answers there or the path is not a
   *   socket; `ESOCKET` for other failures (`errno` ENAMETOOLONG, EACCES, ...).
   * @throws {FdUnavailableError} when the addon is missing.
   */
  static async listen(path: string, options: FdServerOptions = {}): Promise<FdServer> {
    const addon = loadFdAddon();
    const mode = options.mode ?? 0o600;
    const backlog = options.backlog ?? 511;
    for (let attempt = 0; ; attempt++) {
      const fd = addon.listen(path, backlog, mode);
      if (fd >= 0) return new FdServer(addon, path, fd, options);
      if (fd !== -EADDRINUSE || attempt >= 3) throw syscallError("listen", fd, path);
      removeStaleSocket(addon, path);
      await Promise.resolve();
    }
  }

  /** Whether the server has been closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops accepting and removes the socket file (if it is still ours). Open connections are not
   * touched. Idempotent.
   */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#pauseTimer !== undefined) clearTimeout(this.#pauseTimer);
      this.#native.close();
      this.#unlinkIfOurs();
      process.nextTick(() => this.emit("close"));
    }
    return Promise.resolve();
  }

  /** Lets the process exit while the server listens. */
  unref(): this {
    if (!this.#closed) this.#native.setRef(false);
    return this;
  }

  /** Undoes {@link unref}. */
  ref(): this {
    if (!this.#closed) this.#native.setRef(true);
    return this;
  }

  #unlinkIfOurs(): void {
    if (this.#inode === undefined) return;
    try {
      const st = lstatSync(this.path);
      if (st.dev === this.#inode.dev && st.ino === this.#inode.ino) unlinkSync(this.path);
    } catch {
      // already gone
    }
  }

  #onConnection(fd: number): void {
    let socket: FdSocket;
    try {
      socket = FdSocket.fromFd(fd, this.#options);
    } catch (error) {
      this.#addon.close(fd);
      if (this.listenerCount("error") > 0) this.emit("error", error as FdError);
      return;
    }
    if (!this.emit("connection", socket)) socket.destroy();
  }

  #onError(code: string, message: string, syscall: string): void {
    if (TRANSIENT_ACCEPT_ERRORS.has(code) && !this.#closed) {
      // Out of fds or memory: stop accepting for a moment instead of spinning.
      this.#native.setReading(false);
      this.#pauseTimer = setTimeout(() => {
        this.#pauseTimer = undefined;
        if (!this.#closed) this.#native.setReading(true);
      }, 100);
    }
    if (this.listenerCount("error") > 0) {
      this.emit("error", new FdSocketError("ESOCKET", message, { errno: code, syscall, path: this.path }));
    }
  }
}

/**
 * Called when `path` is taken: removes it if it is a socket nobody listens on.
 * @throws {FdSocketError} `EADDRINUSE` if it is not a socket or a live server answers.
 */
function removeStaleSocket(addon: FdAddon, path: string): void {
  let isSocket: boolean;
  try {
    isSocket = lstatSync(path).isSocket();
  } catch {
    return; // vanished meanwhile: just retry
  }
  if (!isSocket) {
    throw new FdSocketError("EADDRINUSE", `listen ${path}: the path exists and is not a socket`, {
      errno: "EADDRINUSE",
      syscall: "listen",
      path,
    });
  }
  const probe = addon.connect(path);
  if (probe >= 0 || probe === -EAGAIN) {
    if (probe >= 0) addon.close(probe);
    throw new FdSocketError("EADDRINUSE", `listen ${path}: another server is listening there`, {
      errno: "EADDRINUSE",
      syscall: "listen",
      path,
    });
  }
  if (probe === -ECONNREFUSED) {
    try {
      unlinkSync(path);
    } catch (error) {
      const errno = (error as NodeJS.ErrnoException).code;
      if (errno !== "ENOENT") {
        throw new FdSocketError("ESOCKET", `cannot remove the stale socket ${path}: ${errno}`, {
          errno,
          syscall: "unlink",
          path,
          cause: error,
        });
      }
    }
    return;
  }
  if (probe !== -ENOENT) throw syscallError("connect", probe, path);
}
