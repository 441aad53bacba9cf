/**
 * A FIFO of received fds for protocol code on top of {@link FdSocket}.
 *
 * On a SOCK_STREAM socket one read can return the bytes of one message together with the fds of
 * the next one, so fds cannot be matched to messages by read. Instead, every frame says how many
 * fds it carries, received fds are pushed here in arrival order, and a complete frame takes its
 * count from the front. FdSocket guarantees that a write's fds have arrived once its last byte
 * has, so a complete frame always finds its fds here.
 * @module
 */
import { closeFdsQuietly } from "./fd-ops.js";
import { FdError } from "./errors.js";

/** Received fds, oldest first. The FIFO owns what it holds until {@link take} hands it out. */
export class FdFifo {
  #fds: number[] = [];
  #head = 0;

  /** How many fds are waiting. */
  get length(): number {
    return this.#fds.length - this.#head;
  }

  /** Appends fds in arrival order (takes ownership). */
  push(fds: readonly number[]): void {
    for (const fd of fds) this.#fds.push(fd);
  }

  /**
   * Removes and returns the `count` oldest fds; the caller owns them.
   * @throws {FdError} `EFD_MISSING` if fewer are waiting (the peer broke the fd accounting).
   */
  take(count: number): number[] {
    if (count > this.length) {
      throw new FdError("EFD_MISSING", `a frame expects ${count} fds but only ${this.length} arrived`);
    }
    const taken = this.#fds.slice(this.#head, this.#head + count);
    this.#head += count;
    if (this.#head === this.#fds.length) {
      this.#fds = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#fds.length) {
      this.#fds = this.#fds.slice(this.#head);
      this.#head = 0;
    }
    return taken;
  }

  /** Closes every fd still waiting (e.g. when the connection dies). */
  closeAll(): void {
    closeFdsQuietly(this.#fds.slice(this.#head));
    this.#fds = [];
    this.#head = 0;
  }
}
