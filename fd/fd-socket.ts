/**
 * {@link FdSocket}: a connected Unix stream socket that carries bytes and open file descriptors.
 *
 * The fd is owned by the native addon (libuv's own reads would throw ancillary data away), polled
 * on Node's event loop. Writes are batched: everything written in one turn of the event loop
 * leaves in as few `sendmsg` calls as the kernel's limits allow.
 *
 * Ownership rules:
 * - `write(chunks, fds)` takes ownership of `fds` when it returns (even if it returns false): they
 *   are closed once the kernel has accepted them, or when the socket is destroyed before that.
 *   Callers that keep using an fd send a {@link dupFd} of it. If `write` throws (invalid
 *   arguments), ownership stays with the caller.
 * - fds delivered by a `'data'` event belong to the listener, which must close or hand them on.
 *   With no `'data'` listener they are closed.
 * - `chunks` must not be modified after `write` (they are sent without copying when possible).
 * @module
 */
import { EventEmitter } from "node:events";
import { constants } from "node:os";
import { type FdAddon, type NativeChannel, loadFdAddon } from "./addon.js";
import { FdError, FdSocketError } from "./errors.js";
import { closeFdsQuietly, syscallError } from "./fd-ops.js";
import { MAX_FDS_PER_SENDMSG, WriteQueue } from "./write-queue.js";

const EAGAIN = constants.errno.EAGAIN;
const EMPTY: readonly number[] = Object.freeze([]);

/** Options of an {@link FdSocket}. */
export interface FdSocketOptions {
  /** `write` returns false once this many bytes wait for the kernel. Default 1 MiB. */
  highWaterMark?: number;
  /**
   * Room for fds in one read's control buffer (1–253). More fds in one kernel message than this
   * is an `EFD_CTRUNC` error. Default 253 (the most one `sendmsg` can carry).
   */
  maxFdsPerRead?: number;
  /** Keep the write side open after the peer's `end()`. Default false: end ours too. */
  allowHalfOpen?: boolean;
  /**
   * When queued writes are flushed: `"immediate"` (default: at `setImmediate`, so everything
   * written while handling one batch of I/O leaves in one syscall) or `"microtask"` (sooner,
   * batches less).
   */
  batching?: "immediate" | "microtask";
}

/** Options of {@link FdSocket.connect}. */
export interface FdSocketConnectOptions extends FdSocketOptions {
  /** Give up after this long while the server's backlog is full (EAGAIN). Default 5000 ms. */
  timeoutMs?: number;
}

/**
 * Who is on the other end of a Unix socket, as the kernel recorded it when the peer connected
 * (`SO_PEERCRED`): the peer cannot choose what this says.
 */
export interface PeerCredentials {
  readonly uid: number;
  /** The peer's effective group id when it connected. */
  readonly gid: number;
  /** The connecting process; undefined where the system does not tell (macOS, BSD). */
  readonly pid: number | undefined;
  /**
   * The peer's supplementary group ids (`SO_PEERGROUPS`, Linux 4.13+); undefined where the
   * kernel does not tell.
   */
  readonly groups: readonly number[] | undefined;
}

/** Counters, for tests and metrics. */
export interface FdSocketStats {
  bytesSent: number;
  bytesReceived: number;
  fdsSent: number;
  fdsReceived: number;
  /** `sendmsg` calls that sent something. */
  sendCalls: number;
  /** `recvmsg` calls that returned data. */
  reads: number;
  /** fds closed unsent (written after end/destroy, or still queued at destroy). */
  fdsDropped: number;
  /**
   * Times the kernel had room again for bytes it had refused (the peer read some of what was
   * sent): proof that the peer is alive while it sends nothing back.
   */
  writesUnblocked: number;
}

/** Events of an {@link FdSocket}. */
export interface FdSocketEvents {
  /** Bytes in arrival order, with the fds that arrived with them (often those of a later message). */
  data: [data: Buffer, fds: readonly number[]];
  /** The peer half-closed; no more data will come. */
  end: [];
  /** The write queue, after `write` returned false, is empty again. */
  drain: [];
  /**
   * After `end()`: every byte written before it was taken by the kernel (it reaches the peer even
   * if this process exits now) and the write side is shut down.
   */
  finish: [];
  /** A failure; `'close'` follows. */
  error: [error: FdError];
  /** The socket is closed (after `'error'` if `hadError`). Emitted once. */
  close: [hadError: boolean];
}

/** A Unix stream socket carrying bytes and file descriptors. See the module notes for ownership. */
export class FdSocket extends EventEmitter<FdSocketEvents> {
  /** Counters: bytes and fds each way, syscalls. */
  readonly stats: FdSocketStats = {
    bytesSent: 0,
    bytesReceived: 0,
    fdsSent: 0,
    fdsReceived: 0,
    sendCalls: 0,
    reads: 0,
    fdsDropped: 0,
    writesUnblocked: 0,
  };

  readonly #addon: FdAddon;
  readonly #native: NativeChannel;
  readonly #queue = new WriteQueue();
  readonly #highWaterMark: number;
  readonly #allowHalfOpen: boolean;
  readonly #microtask: boolean;
  #scheduled = false;
  #waitingWritable = false;
  #needDrain = false;
  #ending = false;
  #shutdown = false;
  #readEnded = false;
  #destroyed = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retries = 0;
  #credentials: PeerCredentials | null | undefined;

  private constructor(addon: FdAddon, fd: number, options: FdSocketOptions) {
    super();
    this.#addon = addon;
    this.#highWaterMark = options.highWaterMark ?? 1024 * 1024;
    this.#allowHalfOpen = options.allowHalfOpen ?? false;
    this.#microtask = options.batching === "microtask";
    const maxFds = Math.min(
      Math.max(Math.floor(options.maxFdsPerRead ?? MAX_FDS_PER_SENDMSG), 1),
      MAX_FDS_PER_SENDMSG,
    );
    try {
      this.#native = new addon.Channel(fd, false, maxFds, {
        onData: (data, fds) => this.#onData(data, fds),
        onEnd: () => this.#onEnd(),
        onError: (code, message, syscall) => this.#onError(code, message, syscall),
        onWritable: () => {
          this.stats.writesUnblocked++;
          this.#flush();
        },
      });
    } catch (error) {
      throw new FdError("EFD_INVALID", `cannot adopt fd ${fd}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * Connects to a listening Unix socket (an {@link FdServer} or anything speaking the same bytes).
   * @throws {FdSocketError} `ESOCKET` (`errno` ENOENT, ECONNREFUSED, ...) or `ETIMEDOUT`.
   * @throws {FdUnavailableError} when the addon is missing.
   */
  static async connect(path: string, options: FdSocketConnectOptions = {}): Promise<FdSocket> {
    const addon = loadFdAddon();
    const deadline = Date.now() + (options.timeoutMs ?? 5000);
    for (;;) {
      const fd = addon.connect(path);
      if (fd >= 0) return new FdSocket(addon, fd, options);
      if (fd !== -EAGAIN) throw syscallError("connect", fd, path);
      if (Date.now() >= deadline) {
        throw new FdSocketError("ETIMEDOUT", `connect ${path} timed out: the server's backlog stayed full`, {
          errno: "EAGAIN",
          syscall: "connect",
          path,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Adopts a connected Unix stream socket fd, e.g. an end of {@link socketPair} or a received
   * fd. Ownership passes to the FdSocket on success; if this throws, the caller still owns `fd`.
   * @throws {FdError} `EFD_INVALID` if `fd` is not a Unix stream socket or is already polled here.
   */
  static fromFd(fd: number, options: FdSocketOptions = {}): FdSocket {
    const addon = loadFdAddon();
    const kind = addon.fdKind(fd);
    if (kind !== "unix") {
      const what = typeof kind === "number" ? addon.errnoName(-kind) : kind;
      throw new FdError("EFD_INVALID", `fd ${fd} is not a connected Unix stream socket (${what})`);
    }
    return new FdSocket(addon, fd, options);
  }

  /**
   * The peer's kernel credentials (uid, gid, pid, groups), read once and kept: they describe the
   * process that connected, and do not change after. Undefined when they cannot be known: an
   * addon built without `peerCredentials`, a socket already destroyed before the first ask, or
   * a kernel refusal (the errno is not kept: callers treat every such peer alike, as unknown).
   */
  peerCredentials(): PeerCredentials | undefined {
    if (this.#credentials === undefined) {
      const fd = this.#native.fd;
      const raw = fd < 0 || this.#addon.peerCredentials === undefined ? -1 : this.#addon.peerCredentials(fd);
      this.#credentials =
        typeof raw === "number"
          ? null
          : Object.freeze({
              uid: raw.uid,
              gid: raw.gid,
              pid: raw.pid < 0 ? undefined : raw.pid,
              groups: raw.groups === null ? undefined : Object.freeze(raw.groups),
            });
    }
    return this.#credentials ?? undefined;
  }

  /** Bytes queued and not yet accepted by the kernel. */
  get writableLength(): number {
    return this.#queue.bytes;
  }

  /** fds queued and not yet accepted by the kernel. */
  get pendingFds(): number {
    return this.#queue.fds;
  }

  /** Whether the socket is closed (or closing). */
  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * Queues bytes, with fds attached to their first byte, to be sent at the end of this turn of
   * the event loop. Takes ownership of `fds` (see module notes). A write carrying n fds needs at
   * least ⌈n/253⌉ data bytes; all of its fds reach the peer no later than its last byte.
   * @returns false when the queue is above the high-water mark (wait for `'drain'`), or when the
   *   socket is ending or destroyed (the data is dropped and the fds closed).
   * @throws {FdError} `EFD_INVALID` for a bad fd list (ownership stays with the caller).
   */
  write(chunks: Uint8Array | readonly Uint8Array[], fds?: readonly number[]): boolean {
    const list: readonly Uint8Array[] = chunks instanceof Uint8Array ? [chunks] : chunks;
    const fdList = fds !== undefined && fds.length > 0 ? fds : null;
    if (fdList !== null) checkFds(list, fdList);
    if (this.#destroyed || this.#ending) {
      if (fdList !== null) {
        closeFdsQuietly(fdList);
        this.stats.fdsDropped += fdList.length;
      }
      return false;
    }
    this.#queue.push(list, fdList);
    if (!this.#scheduled && !this.#waitingWritable && this.#retryTimer === undefined) {
      this.#scheduled = true;
      if (this.#microtask) queueMicrotask(this.#flush);
      else setImmediate(this.#flush);
    }
    if (this.#queue.bytes < this.#highWaterMark) return true;
    this.#needDrain = true;
    return false;
  }

  /**
   * Sends what is queued now instead of at the end of the turn (one `sendmsg` for all of it),
   * unless the kernel buffer is full. For callers that batch by themselves and want their batch
   * on the wire while they go on working.
   */
  flush(): void {
    if (this.#destroyed || this.#waitingWritable || this.#retryTimer !== undefined || this.#queue.empty)
      return;
    this.#flush();
  }

  /**
   * Half-closes: queued data is sent, then the write side shuts down (`'finish'`). Reading
   * continues.
   */
  end(): void {
    if (this.#ending || this.#destroyed) return;
    this.#ending = true;
    if (this.#queue.empty) this.#doShutdown();
  }

  /**
   * Closes now: queued data is dropped and queued fds are closed. Emits `'error'` (if `error`
   * is given) and `'close'` on the next tick. Idempotent.
   */
  destroy(error?: Error): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#native.close();
    const fds = this.#queue.clear();
    closeFdsQuietly(fds);
    this.stats.fdsDropped += fds.length;
    const failure =
      error === undefined || error instanceof FdError
        ? error
        : new FdSocketError("ESOCKET", error.message, { cause: error });
    process.nextTick(() => {
      if (failure !== undefined) this.emit("error", failure);
      this.emit("close", failure !== undefined);
    });
  }

  /** Stops reading (the kernel buffers, then the peer's writes back up). */
  pause(): void {
    if (!this.#destroyed) this.#native.setReading(false);
  }

  /** Resumes reading after {@link pause}. */
  resume(): void {
    if (!this.#destroyed) this.#native.setReading(true);
  }

  /** Lets the process exit while this socket is open. */
  unref(): this {
    if (!this.#destroyed) this.#native.setRef(false);
    return this;
  }

  /** Undoes {@link unref}. */
  ref(): this {
    if (!this.#destroyed) this.#native.setRef(true);
    return this;
  }

  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#waitingWritable = false;
    this.#retryTimer = undefined;
    if (this.#destroyed) return;
    const queue = this.#queue;
    for (;;) {
      const batch = queue.peek();
      if (batch === null) break;
      const sent = this.#native.send(batch.chunks, batch.fds, true);
      if (sent > 0) {
        this.stats.sendCalls++;
        this.stats.bytesSent += sent;
        if (batch.fds !== null) this.stats.fdsSent += batch.fds.length;
        queue.consume(sent);
        this.#retries = 0;
        if (sent < batch.bytes) {
          this.#waitingWritable = true; // the addon calls onWritable
          return;
        }
        continue;
      }
      if (sent === -EAGAIN) {
        this.#waitingWritable = true;
        return;
      }
      if (this.#addon.errnoName(-sent) === "ETOOMANYREFS" && this.#retries++ < 2000) {
        // Too many fds in flight for this user (RLIMIT_NOFILE): wait for the peer to take some.
        this.#retryTimer = setTimeout(this.#flush, 5);
        return;
      }
      this.destroy(syscallError("sendmsg", sent));
      return;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      this.emit("drain");
    }
    if (this.#ending && !this.#shutdown && queue.empty && !this.#destroyed) this.#doShutdown();
  };

  #doShutdown(): void {
    this.#shutdown = true;
    const r = this.#native.shutdown();
    if (r < 0 && this.#addon.errnoName(-r) !== "ENOTCONN") {
      this.destroy(syscallError("shutdown", r));
      return;
    }
    // ENOTCONN (the peer is gone) too: every byte was taken by the kernel, none is left here.
    this.emit("finish");
    this.#maybeClose();
  }

  #maybeClose(): void {
    if (this.#readEnded && this.#shutdown && !this.#destroyed) this.destroy();
  }

  #onData(data: Buffer, fds: number[] | null): void {
    this.stats.reads++;
    this.stats.bytesReceived += data.length;
    if (fds !== null) this.stats.fdsReceived += fds.length;
    if (!this.emit("data", data, fds ?? EMPTY) && fds !== null) closeFdsQuietly(fds);
  }

  #onEnd(): void {
    this.#readEnded = true;
    this.emit("end");
    // Writes waiting for room: try now. If the peer only half-closed they go on; if it is gone
    // the kernel says so (EPIPE) at once — waiting for a writable event that a dead peer never
    // sends would leave the socket open forever.
    if (!this.#queue.empty && !this.#destroyed && this.#retryTimer === undefined) this.#flush();
    if (!this.#allowHalfOpen) this.end();
    this.#maybeClose();
  }

  #onError(code: string, message: string, syscall: string): void {
    this.destroy(
      code === "EFD_CTRUNC"
        ? new FdSocketError("EFD_CTRUNC", message, { syscall })
        : new FdSocketError("ESOCKET", message, { errno: code, syscall }),
    );
  }
}

/** Rejects fd lists the kernel or our ownership rules cannot accept. */
function checkFds(chunks: readonly Uint8Array[], fds: readonly number[]): void {
  for (const fd of fds) {
    if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
      throw new FdError("EFD_INVALID", `not a file descriptor: ${String(fd)}`);
    }
  }
  if (fds.length > 1 && new Set(fds).size !== fds.length) {
    throw new FdError("EFD_INVALID", "the same fd appears twice in one write (ownership passes once)");
  }
  let bytes = 0;
  for (const chunk of chunks) bytes += chunk.byteLength;
  const needed = WriteQueue.minBytesFor(fds.length);
  if (bytes < needed) {
    throw new FdError("EFD_INVALID", `a write with ${fds.length} fds needs at least ${needed} data bytes`);
  }
}
