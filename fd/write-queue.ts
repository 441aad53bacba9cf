/**
 * The outgoing queue of an {@link FdSocket}: bytes with fds attached, cut into `sendmsg` batches
 * that obey the kernel's rules. Pure bookkeeping (no I/O), so it is tested on its own.
 *
 * Guarantees, per `push(chunks, fds)`:
 * - every fd batch rides on at least one data byte, and one `sendmsg` carries at most
 *   {@link MAX_FDS_PER_SENDMSG} fds;
 * - fds never arrive later than the data they were written with: with ≤253 fds they ride on the
 *   first byte of the write (or earlier, when merged into an earlier batch); with more, group k
 *   (of 253) rides on byte k of the write, so a write needs at least ⌈fds/253⌉ bytes, and all its
 *   fds have arrived once its last byte has.
 * @module
 */

/** SCM_MAX_FD: the most fds Linux accepts in one `sendmsg`. */
export const MAX_FDS_PER_SENDMSG = 253;
/** IOV_MAX: the most chunks one `sendmsg` takes. */
export const MAX_IOV = 1024;
/** A batch stops growing once it holds this many bytes (the kernel takes less anyway). */
export const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Batches of many chunks up to this size are copied into one buffer (cheaper than many iovecs). */
export const COALESCE_BYTES = 64 * 1024;

interface Item {
  data: Buffer;
  /** fds attached to `data[0]`. */
  fds: number[] | null;
}

/** One `sendmsg` worth of the queue's head. */
export interface Batch {
  chunks: Buffer[];
  fds: number[] | null;
  bytes: number;
}

function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** A FIFO of byte chunks with fds attached, cut into batches for `sendmsg`. */
export class WriteQueue {
  #items: Item[] = [];
  #head = 0;
  /** Items (from the head) the last {@link peek} covered: their fds go out with its batch. */
  #batchItems = 0;
  /** Bytes queued and not yet accepted by the kernel. */
  bytes = 0;
  /** fds queued and not yet accepted by the kernel (owned by the queue). */
  fds = 0;

  /** Whether nothing is queued. */
  get empty(): boolean {
    return this.#head === this.#items.length;
  }

  /**
   * Smallest data length a write carrying `fdCount` fds must have.
   * @returns 0 without fds, else ⌈fdCount / 253⌉.
   */
  static minBytesFor(fdCount: number): number {
    return Math.ceil(fdCount / MAX_FDS_PER_SENDMSG);
  }

  /**
   * Appends one write. The caller has checked that the data is long enough for the fds
   * ({@link minBytesFor}); the queue owns the fds from now on.
   */
  push(chunks: readonly Uint8Array[], fds: readonly number[] | null): void {
    let pending = fds !== null && fds.length > 0 ? fds : null;
    let fdIndex = 0;
    for (const chunk of chunks) {
      let data = toBuffer(chunk);
      if (data.length === 0) continue;
      // More than one sendmsg worth of fds: peel off one byte per full group of 253.
      while (pending !== null && pending.length - fdIndex > MAX_FDS_PER_SENDMSG && data.length > 0) {
        this.#append(data.subarray(0, 1), pending.slice(fdIndex, fdIndex + MAX_FDS_PER_SENDMSG));
        fdIndex += MAX_FDS_PER_SENDMSG;
        data = data.subarray(1);
      }
      if (data.length === 0) continue;
      if (pending !== null) {
        this.#append(data, pending.slice(fdIndex));
        pending = null;
      } else {
        this.#append(data, null);
      }
    }
    if (pending !== null) throw new RangeError("not enough data bytes for the fds of this write");
  }

  #append(data: Buffer, fds: number[] | null): void {
    this.#items.push({ data, fds });
    this.bytes += data.length;
    if (fds !== null) this.fds += fds.length;
  }

  /**
   * The next `sendmsg` from the head: consecutive items while their fds fit in one message, up
   * to {@link MAX_IOV} chunks and {@link MAX_BATCH_BYTES}. Many small chunks are copied into one
   * buffer. Returns null when empty. Call {@link consume} with the bytes the kernel took.
   */
  peek(): Batch | null {
    if (this.empty) return null;
    const items = this.#items;
    const first = items[this.#head] as Item;
    const chunks = [first.data];
    let fds = first.fds === null ? null : first.fds.slice();
    let bytes = first.data.length;
    let end = this.#head + 1;
    while (end < items.length && chunks.length < MAX_IOV && bytes < MAX_BATCH_BYTES) {
      const item = items[end] as Item;
      if (item.fds !== null) {
        if ((fds?.length ?? 0) + item.fds.length > MAX_FDS_PER_SENDMSG) break;
        fds = fds === null ? item.fds.slice() : fds.concat(item.fds);
      }
      chunks.push(item.data);
      bytes += item.data.length;
      end++;
    }
    if (chunks.length > 4 && bytes <= COALESCE_BYTES) {
      // Replace the covered items by one merged item in the last covered slot.
      const merged = Buffer.concat(chunks, bytes);
      this.#head = end - 1;
      items[this.#head] = { data: merged, fds };
      this.#batchItems = 1;
      return { chunks: [merged], fds, bytes };
    }
    this.#batchItems = end - this.#head;
    return { chunks, fds, bytes };
  }

  /**
   * Records that the kernel accepted `sent` (> 0) bytes of the last {@link peek}'s batch. All of
   * that batch's fds went with its first byte, so they leave the queue even if bytes remain.
   */
  consume(sent: number): void {
    const items = this.#items;
    for (let i = this.#head; i < this.#head + this.#batchItems; i++) {
      const item = items[i] as Item;
      if (item.fds !== null) {
        this.fds -= item.fds.length;
        item.fds = null;
      }
    }
    this.#batchItems = 0;
    this.bytes -= sent;
    while (sent > 0) {
      const item = items[this.#head] as Item;
      if (sent >= item.data.length) {
        sent -= item.data.length;
        this.#head++;
      } else {
        item.data = item.data.subarray(sent);
        sent = 0;
      }
    }
    if (this.#head === items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= items.length) {
      this.#items = items.slice(this.#head);
      this.#head = 0;
    }
  }

  /** Empties the queue and returns the fds it still owned (for the caller to close). */
  clear(): number[] {
    const fds: number[] = [];
    for (let i = this.#head; i < this.#items.length; i++) {
      const item = this.#items[i] as Item;
      if (item.fds !== null) fds.push(...item.fds);
    }
    this.#items = [];
    this.#head = 0;
    this.#batchItems = 0;
    this.bytes = 0;
    this.fds = 0;
    return fds;
  }
}
