import { estimateBytes } from "./message-size.js";
import type { PubSubMessage } from "./types.js";

/** What a kept message costs besides its data: the message object and its bookkeeping. */
const MESSAGE_OVERHEAD = 64;

/** The estimated memory a message holds (its data and the message object). */
export function messageBytes(message: PubSubMessage): number {
  return estimateBytes(message.data) + MESSAGE_OVERHEAD;
}

/**
 * The last messages of one channel, for late joiners: at most `limit` messages and about
 * `byteLimit` bytes; the oldest go first. A single message larger than the byte cap is not kept.
 */
export class History {
  /** Oldest first from `#head`; the dead prefix is cut once it is half the array. */
  #messages: PubSubMessage[] = [];
  #sizes: number[] = [];
  #head = 0;
  #bytes = 0;

  constructor(
    readonly limit: number,
    readonly byteLimit: number,
  ) {}

  get count(): number {
    return this.#messages.length - this.#head;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** Keeps `message`; `bytes` is its size when the caller has already estimated it ({@link messageBytes}). */
  add(message: PubSubMessage, bytes = messageBytes(message)): void {
    if (this.limit === 0) return;
    if (bytes > this.byteLimit) return;
    this.#messages.push(message);
    this.#sizes.push(bytes);
    this.#bytes += bytes;
    while (this.count > this.limit || this.#bytes > this.byteLimit) {
      this.#bytes -= this.#sizes[this.#head]!;
      this.#head++;
    }
    if (this.#head > 64 && this.#head * 2 > this.#messages.length) {
      this.#messages = this.#messages.slice(this.#head);
      this.#sizes = this.#sizes.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * The kept messages newer than `seq`, oldest first. Seqs are increasing but not contiguous (a
   * byte-stream broadcast takes one and is not kept), so this searches rather than counts.
   */
  after(seq: number): PubSubMessage[] {
    let low = this.#head;
    let high = this.#messages.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#messages[middle]!.seq <= seq) low = middle + 1;
      else high = middle;
    }
    return this.#messages.slice(low);
  }

  /** The last `count` kept messages (all when `count` is undefined), oldest first. */
  last(count?: number): PubSubMessage[] {
    const from = count === undefined ? this.#head : Math.max(this.#head, this.#messages.length - count);
    return this.#messages.slice(from);
  }
}
