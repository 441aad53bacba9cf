import type { ByteTransport } from "./byte-transport.js";
import type { MemoryBudget } from "./memory-budget.js";

/**
 * Bytes of answers (frames outside the peer's credit) queued past the transport's mark after
 * which this side stops reading from the peer (see `#answerBytes`).
 */
const PAUSE_AFTER_ANSWER_BYTES = 256 * 1024;

/** What a congestion watch needs from its session. */
export interface CongestionLimits {
  readonly memoryBudget: MemoryBudget;
  readonly maxUnsentBytes: number;
  readonly slowConsumerTimeout: number;
}

/**
 * A peer that does not read what this side sends (PROTOCOL.md "Limits and refusals"): once the
 * transport holds more than its high-water mark for the peer, this side stops reading from the
 * peer (so its requests stop producing answers), counts the unsent bytes in the memory budget,
 * and gives the peer `slowConsumerTimeout` to catch up; past `maxUnsentBytes` it gets no time.
 * Then `onSlowConsumer` closes the session.
 */
export class Congestion {
  /** Whether the transport holds more than its high-water mark of bytes for the peer. */
  #congested = false;
  /**
   * Bytes of frames outside the peer's credit (answers, PONGs, ...) written since the transport
   * was last under its mark. Reading from the peer pauses only when these are many: bytes that
   * credit bounds (a bulk stream, events) must not stop this side from reading the peer's
   * WINDOWs — two sides both streaming to each other would each wait for the other to read.
   */
  #answerBytes = 0;
  #readingPaused = false;
  /** Unsent bytes counted in the memory budget (while congested). */
  #countedUnsent = 0;
  #slowTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly transport: ByteTransport,
    private readonly limits: CongestionLimits,
    private readonly onSlowConsumer: (reason: string) => void,
  ) {}

  /** Whether reading from the peer is paused because it does not read what we send. */
  get readingPaused(): boolean {
    return this.#readingPaused;
  }

  /**
   * A batch was written with `answerBytes` bytes outside the peer's credit; `accepted` is false
   * when the transport went over its high-water mark.
   */
  wrote(answerBytes: number, accepted: boolean): void {
    this.#answerBytes += answerBytes;
    if (accepted) this.#answerBytes = 0;
    else this.#overHighWaterMark();
  }

  /**
   * Bytes arrive from the peer: while it does not read what we send and our answers to it pile
   * up, stop reading what it sends (this chunk is the last) until our bytes drain.
   */
  beforeReceive(): void {
    if (this.#congested && !this.#readingPaused && this.#answerBytes >= PAUSE_AFTER_ANSWER_BYTES) {
      this.#readingPaused = true;
      this.transport.pause?.();
    }
  }

  /** The transport's bytes for the peer drained: read from it again (unless `closed`). */
  drained(closed: boolean): void {
    if (!this.#congested) return;
    this.end();
    if (this.#readingPaused && !closed) {
      this.#readingPaused = false;
      this.transport.resume?.();
    }
  }

  /** Ends the congestion state (drained, or the session ended); idempotent. */
  end(): void {
    // Also when never congested: a first batch past maxUnsentBytes counted its bytes.
    this.#congested = false;
    this.#answerBytes = 0;
    clearTimeout(this.#slowTimer);
    this.#slowTimer = undefined;
    this.limits.memoryBudget.add(-this.#countedUnsent);
    this.#countedUnsent = 0;
  }

  #overHighWaterMark(): void {
    const unsent = this.transport.bufferedBytes ?? 0;
    this.limits.memoryBudget.add(unsent - this.#countedUnsent);
    this.#countedUnsent = unsent;
    if (unsent > this.limits.maxUnsentBytes) {
      this.onSlowConsumer(
        `${unsent} bytes queued for the peer exceed maxUnsentBytes (${this.limits.maxUnsentBytes})`,
      );
      return;
    }
    if (this.#congested) return;
    this.#congested = true;
    this.#slowTimer = setTimeout(() => {
      this.onSlowConsumer(
        `the peer read nothing of ${this.transport.bufferedBytes ?? "its"} queued bytes for ${this.limits.slowConsumerTimeout} ms`,
      );
    }, this.limits.slowConsumerTimeout);
    this.#slowTimer.unref();
  }
}
