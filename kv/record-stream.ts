// Framing for streams of kv messages (log files, live sync over a byte stream): each record is
// one netstring whose content is a complete kv message, e.g. `22:000;5:hello,8:5:world,,,`.
// A kv message alone has no total length, so the extra netstring is what lets a reader find
// record boundaries, and tell a complete record from one cut short by a crash.
import { encodeKv } from "./encode.js";
import { KvDecodeError } from "./errors.js";
import { KvMessage } from "./message.js";
import { COLON, COMMA, DEFAULT_MAX_LENGTH, encodeNetstring } from "./netstring.js";
import type { KvDecodeOptions, KvObject } from "./types.js";

/** A record read from a kv record stream. */
export interface KvRecordEntry {
  /** Byte offset of the record (its length prefix) in the stream. */
  offset: number;
  /** The record's kv message. */
  message: KvMessage;
}

/** Options of {@link KvRecordDecoder}. */
export interface KvRecordDecoderOptions extends KvDecodeOptions {
  /** Largest record (kv message) accepted. Default 16 MiB. */
  maxRecordLength?: number;
  /** Offset of the first byte pushed, for reporting (e.g. when resuming a file). Default 0. */
  startOffset?: number;
}

/** Frames a kv message (or its encoded bytes) as one record: `netstring(message)`. */
export function encodeKvRecord(message: KvMessage | KvObject | Uint8Array): Uint8Array {
  return encodeNetstring(message instanceof Uint8Array ? message : encodeKv(message));
}

/**
 * Splits a byte stream into kv records, chunk by chunk, whatever the chunk boundaries. Invalid
 * framing or an invalid message throws {@link KvDecodeError} with the absolute offset; bytes
 * after the last complete record stay buffered until more arrive or {@link end} is called.
 */
export class KvRecordDecoder {
  readonly #maxRecord: number;
  readonly #options: KvDecodeOptions;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #offset: number;
  /** Total size (prefix, content, comma) of the record being assembled, or -1 if not known yet. */
  #need = -1;
  #contentStart = 0;
  /** An error found after records that were returned; raised by the next call. */
  #failure: KvDecodeError | undefined;

  constructor(options: KvRecordDecoderOptions = {}) {
    this.#maxRecord = options.maxRecordLength ?? DEFAULT_MAX_LENGTH;
    this.#offset = options.startOffset ?? 0;
    this.#options = { maxLength: options.maxLength, canonical: options.canonical };
  }

  /** Offset just past the last complete record: where the next record starts. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes received that do not yet form a complete record. */
  get pending(): number {
    return this.#buffered;
  }

  /**
   * Feeds the next bytes of the stream; returns the records they complete, in order. If the
   * bytes hold complete records followed by an error, the records are returned and the error
   * is thrown by the next call to `push` or {@link end}.
   */
  push(chunk: Uint8Array): KvRecordEntry[] {
    if (this.#failure !== undefined) throw this.#failure;
    if (chunk.length > 0) {
      this.#chunks.push(chunk);
      this.#buffered += chunk.length;
    }
    const out: KvRecordEntry[] = [];
    try {
      this.#parse(out);
    } catch (error) {
      if (out.length === 0 || !(error instanceof KvDecodeError)) throw error;
      this.#failure = error;
    }
    return out;
  }

  #parse(out: KvRecordEntry[]): void {
    for (;;) {
      if (this.#need < 0 && !this.#readPrefix()) break;
      if (this.#buffered < this.#need) break;
      const data = this.#flatten();
      const close = this.#need - 1;
      if (data[close] !== COMMA) {
        throw new KvDecodeError("EKV_COMMA", "kv: expected ',' after a record", this.#offset + close);
      }
      const body = data.subarray(this.#contentStart, close);
      let message: KvMessage;
      try {
        message = KvMessage.decode(body, this.#options);
      } catch (error) {
        if (!(error instanceof KvDecodeError)) throw error;
        const at = this.#offset + this.#contentStart + error.offset;
        throw new KvDecodeError(error.code, `${error.reason} in the record at byte ${this.#offset}`, at, {
          cause: error,
        });
      }
      out.push({ offset: this.#offset, message });
      const rest = data.subarray(this.#need);
      this.#offset += this.#need;
      this.#chunks = rest.length > 0 ? [rest] : [];
      this.#buffered = rest.length;
      this.#need = -1;
    }
  }

  /**
   * Declares the end of the stream. Throws {@link KvDecodeError} `EKV_TRUNCATED`, at the offset
   * of the incomplete record, if bytes after the last complete record remain.
   */
  end(): void {
    if (this.#failure !== undefined) throw this.#failure;
    if (this.#buffered > 0) {
      throw new KvDecodeError(
        "EKV_TRUNCATED",
        `kv: the stream ends inside a record (${this.#buffered} bytes of an incomplete record)`,
        this.#offset,
      );
    }
  }

  /** Parses the length prefix of the next record if enough bytes are there; false if not. */
  #readPrefix(): boolean {
    if (this.#buffered === 0) return false;
    const data = this.#flatten();
    const at = this.#offset;
    let n = 0;
    let i = 0;
    for (; i < data.length; i++) {
      const c = data[i] as number;
      if (c === COLON && i > 0) break;
      const digit = c - 0x30;
      if (digit < 0 || digit > 9) {
        const found = c.toString(16).padStart(2, "0");
        throw new KvDecodeError(
          "EKV_DIGIT",
          `kv: expected a digit in a record length, found 0x${found}`,
          at + i,
        );
      }
      if (i === 1 && n === 0)
        throw new KvDecodeError("EKV_LEADING_ZERO", "kv: record length has a leading zero", at);
      n = n * 10 + digit;
      if (n > this.#maxRecord) {
        throw new KvDecodeError(
          "EKV_TOO_LONG",
          `kv: record length exceeds the maximum of ${this.#maxRecord} bytes`,
          at,
        );
      }
    }
    if (i === data.length) return false; // the prefix itself is incomplete
    this.#contentStart = i + 1;
    this.#need = i + 1 + n + 1;
    return true;
  }

  /** Joins the buffered chunks into one array (usually there is just one). */
  #flatten(): Uint8Array {
    const chunks = this.#chunks;
    if (chunks.length === 1) return chunks[0] as Uint8Array;
    const data = new Uint8Array(this.#buffered);
    let at = 0;
    for (const chunk of chunks) {
      data.set(chunk, at);
      at += chunk.length;
    }
    this.#chunks = [data];
    return data;
  }
}
