/**
 * How the HTTPS session transports (an HTTP/2 stream, a WebSocket) close: after what was written,
 * and done only once the peer has closed its side in answer.
 * @module
 */
import { CLOSE_STALL_MS } from "../../wire/send-backlog.js";

/**
 * The close of a connection over TCP, done when the peer answered it (its END_STREAM, its
 * WebSocket close) rather than when this process handed its last bytes to the kernel.
 *
 * WHY not "taken by the kernel", as on a Unix socket: a TCP socket that a process leaves with
 * unread bytes in its receive queue is reset, and the kernel drops what it had not yet sent — a
 * command that exits right after its close could still lose its tail. The peer answers a close
 * only after it has read everything before it (a beamhub peer closes its side when it reads our
 * GOAWAY, the last frame), so its answer is the proof of delivery.
 *
 * Bounded as the Unix close is (`CLOSE_STALL_MS`, 10 s): while bytes leave within every
 * `stallMs`, the close waits on, however slow the peer; when none did (a peer that stopped
 * reading, or one that took everything and does not answer) the connection is dropped and the
 * close is over. Its progress is counted in bytes handed to the kernel, not in writes completed:
 * HTTP/2 completes a batch of many megabytes as a whole (see `SendProgress`). While it waits, the
 * process is kept alive, so a command that awaits its close does not exit before the bytes left.
 */
export class AcknowledgedClose {
  #peerClosed = false;
  #done: Promise<void> | undefined;
  #resolve: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #lastSent = 0;

  /**
   * @param sent bytes handed to the kernel so far (grows only)
   * @param stallMs how long without progress the close waits before it drops the connection
   */
  constructor(
    private readonly sent: () => number,
    private readonly stallMs = CLOSE_STALL_MS,
  ) {}

  /** The connection is gone: the peer answered the close, or it failed. */
  connectionClosed(): void {
    this.#peerClosed = true;
    this.#finish();
  }

  /**
   * Closes once (`end`: this side's close, after what was written) and resolves when the peer
   * answered, or after `drop` ended the connection because the close made no progress for
   * `stallMs`. Later calls return the same promise. Never rejects.
   */
  close(end: () => void, drop: () => void): Promise<void> {
    if (this.#done !== undefined) return this.#done;
    if (this.#peerClosed) return (this.#done = Promise.resolve());
    this.#done = new Promise((resolve) => (this.#resolve = resolve));
    this.#lastSent = this.sent();
    const look = (): void => {
      const sent = this.sent();
      if (sent > this.#lastSent) {
        this.#lastSent = sent;
        this.#timer = setTimeout(look, this.stallMs);
        return;
      }
      this.#timer = undefined;
      drop();
      this.#finish();
    };
    // Kept ref'd: a process that closes its session and returns must not exit before the bytes leave.
    this.#timer = setTimeout(look, this.stallMs);
    end();
    return this.#done;
  }

  #finish(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolve?.();
    this.#resolve = undefined;
  }
}
