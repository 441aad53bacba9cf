/**
 * Length-prefixed records over a byte stream: a 4-byte big-endian length, then that many bytes.
 * The tunnel's handshake messages and its encrypted records are both framed this way.
 */
export const MAX_RECORD = 65_536 + 16;

/** Reassembles records from arbitrary chunks; throws on a length over `MAX_RECORD`. */
export class RecordReader {
  #buffered: Buffer[] = [];
  #length = 0;

  /** Adds `chunk` and returns every record now complete, in order. */
  push(chunk: Uint8Array): Buffer[] {
    this.#buffered.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.#length += chunk.byteLength;
    const records: Buffer[] = [];
    for (;;) {
      if (this.#length < 4) break;
      const head = this.#peek(4);
      const size = head.readUInt32BE(0);
      if (size > MAX_RECORD)
        throw new RangeError(`a record of ${size} bytes is over the limit of ${MAX_RECORD}`);
      if (this.#length < 4 + size) break;
      const whole = this.#take(4 + size);
      records.push(whole.subarray(4));
    }
    return records;
  }

  #peek(count: number): Buffer {
    if (this.#buffered[0]!.length < count) this.#buffered = [Buffer.concat(this.#buffered)];
    return this.#buffered[0]!.subarray(0, count);
  }

  #take(count: number): Buffer {
    const all = this.#buffered.length === 1 ? this.#buffered[0]! : Buffer.concat(this.#buffered);
    this.#buffered = all.length > count ? [all.subarray(count)] : [];
    this.#length -= count;
    return all.subarray(0, count);
  }
}

/** `payload` with its length in front. */
export function frameRecord(payload: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(payload.byteLength);
  return Buffer.concat([head, payload]);
}
