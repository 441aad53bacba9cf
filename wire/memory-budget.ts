import { ConnectionConfigError } from "./errors.js";

/**
 * A count of bytes buffered on behalf of peers, shared by every session that is given it: bytes
 * that arrived on byte streams and wait for their reader, channel events that wait for theirs,
 * and bytes queued for a peer that does not read. Each session adds what it buffers and takes
 * it off when it is gone. Past `limit`, sessions refuse what would buffer more — a new byte
 * stream or channel opened by a peer, a large request — with `LimitExceededError`
 * (`limit: "memoryBudget"`), one at a time, while everything already open goes on. It is a
 * budget, not a cap: what is open when it is reached may still fill its windows (each window
 * is bounded by the session's own limits), so set it below the memory the process may use by
 * what `maxStreams × streamWindow` allows one session.
 */
export class MemoryBudget {
  /** The budget every session uses unless given its own (512 MiB). */
  static readonly shared = new MemoryBudget(512 * 1024 * 1024);

  #used = 0;

  constructor(readonly limit: number) {
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new ConnectionConfigError(`memory budget must be a non-negative integer of bytes, got ${limit}`);
    }
  }

  /** Bytes buffered now, across the sessions that share this budget. */
  get used(): number {
    return this.#used;
  }

  /** Whether `bytes` more would go past the limit. */
  wouldExceed(bytes = 0): boolean {
    return this.#used + bytes > this.limit;
  }

  /** Counts `bytes` more (negative: fewer). */
  add(bytes: number): void {
    this.#used += bytes;
  }
}
