// Append-only files of kv records (see record-stream.ts for the framing). A crash can leave
// the last record half-written; readers report that torn tail with its offset instead of
// failing, and a writer opening the file cuts it off before appending, so every complete
// record survives and new records never get glued onto garbage. There are no checksums: a
// damaged length in the middle of a file makes everything after it unreadable, and is
// reported (and cut) the same way.
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import type { FileHandle } from "node:fs/promises";
import { KvDecodeError, KvError } from "./errors.js";
import type { KvMessage } from "./message.js";
import { encodeKvRecord, KvRecordDecoder } from "./record-stream.js";
import type { KvRecordDecoderOptions, KvRecordEntry } from "./record-stream.js";
import type { KvObject } from "./types.js";

/** The unreadable end of a log file. */
export interface KvTornTail {
  /** Offset of the first byte that is not part of a complete record. */
  offset: number;
  /** Number of bytes from `offset` to the end of the file. */
  length: number;
  /** Why the bytes at `offset` are not a record (`EKV_TRUNCATED` for a record cut short). */
  error: KvDecodeError;
}

/** Options of {@link KvLogReader}. */
export interface KvLogReadOptions extends KvRecordDecoderOptions {
  /** What to do with a torn tail: record it in {@link KvLogReader.tail} (default) or throw. */
  onTornTail?: "report" | "throw";
}

/**
 * Reads the records of a kv log file in order, without loading the file at once:
 * `for await (const { offset, message } of new KvLogReader(path)) ...`. After the loop,
 * {@link tail} tells whether the file ended with an unreadable tail. A complete record whose
 * content is not a valid kv message is corruption, not a torn tail, and throws.
 */
export class KvLogReader implements AsyncIterable<KvRecordEntry> {
  readonly #path: string;
  readonly #options: KvLogReadOptions;
  #tail: KvTornTail | undefined;
  #end = 0;

  constructor(path: string, options: KvLogReadOptions = {}) {
    this.#path = path;
    this.#options = options;
  }

  /** The torn tail found by the last complete iteration, if any. */
  get tail(): KvTornTail | undefined {
    return this.#tail;
  }

  /** Offset just past the last complete record, after an iteration. */
  get end(): number {
    return this.#end;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<KvRecordEntry> {
    this.#tail = undefined;
    const decoder = new KvRecordDecoder(this.#options);
    const stream = createReadStream(this.#path, { highWaterMark: 64 * 1024 });
    let framingError: KvDecodeError | undefined;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        let entries: KvRecordEntry[];
        try {
          entries = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
        } catch (error) {
          // Damaged framing: nothing after this point can be located. Bad record content is
          // passed on as corruption.
          if (error instanceof KvDecodeError && isFramingError(error)) {
            framingError = error;
            break;
          }
          throw error;
        }
        for (const entry of entries) yield entry;
      }
      if (framingError === undefined) {
        try {
          decoder.end();
        } catch (error) {
          if (!(error instanceof KvDecodeError) || !isFramingError(error)) throw error;
          framingError = error;
        }
      }
    } finally {
      stream.destroy();
    }
    this.#end = decoder.offset;
    if (framingError !== undefined) {
      const size = (await stat(this.#path)).size;
      this.#tail = { offset: decoder.offset, length: size - decoder.offset, error: framingError };
      if (this.#options.onTornTail === "throw") throw framingError;
    }
  }
}

/** A framing error is in a record's prefix or closing comma; errors inside its message carry a cause. */
function isFramingError(error: KvDecodeError): boolean {
  return !(error.cause instanceof KvDecodeError);
}

/** Reads a whole kv log: its records, the offset past the last one, and any torn tail. */
export async function readKvLog(
  path: string,
  options?: KvLogReadOptions,
): Promise<{ records: KvRecordEntry[]; end: number; tail: KvTornTail | undefined }> {
  const reader = new KvLogReader(path, options);
  const records: KvRecordEntry[] = [];
  for await (const entry of reader) records.push(entry);
  return { records, end: reader.end, tail: reader.tail };
}

/** Options of {@link KvLogWriter.open}. */
export interface KvLogWriterOptions extends KvRecordDecoderOptions {
  /** fsync after each batch of appends before their promises resolve. Default false. */
  fsync?: boolean;
  /** Cut a torn tail found when opening (default), or refuse to open the file. */
  onTornTail?: "truncate" | "throw";
}

interface Pending {
  bytes: Uint8Array;
  resolve: (offset: number) => void;
  reject: (error: unknown) => void;
}

/**
 * Appends kv records to a log file. Appends made while a write is in flight are written
 * together in one `writev` (and one fsync), in call order.
 */
export class KvLogWriter {
  readonly #handle: FileHandle;
  readonly #fsync: boolean;
  /** The torn tail cut off when the file was opened, if there was one. */
  readonly recovered: KvTornTail | undefined;
  /** Number of complete records in the file when it was opened. */
  readonly existingRecords: number;
  #size: number;
  #queue: Pending[] = [];
  #writing: Promise<void> | undefined;
  #closed = false;

  private constructor(
    handle: FileHandle,
    size: number,
    records: number,
    tail: KvTornTail | undefined,
    fsync: boolean,
  ) {
    this.#handle = handle;
    this.#size = size;
    this.existingRecords = records;
    this.recovered = tail;
    this.#fsync = fsync;
  }

  /**
   * Opens (creating if needed) a log for appending. The existing records are read and
   * validated; a torn tail is truncated (and reported in {@link recovered}) unless
   * `onTornTail: "throw"`.
   */
  static async open(path: string, options: KvLogWriterOptions = {}): Promise<KvLogWriter> {
    const handle = await open(path, "a+");
    try {
      const reader = new KvLogReader(path, { ...options, onTornTail: "report" });
      let records = 0;
      for await (const _ of reader) records++;
      const tail = reader.tail;
      if (tail !== undefined) {
        if (options.onTornTail === "throw") throw tail.error;
        await handle.truncate(tail.offset);
        await handle.sync();
      }
      return new KvLogWriter(handle, reader.end, records, tail, options.fsync === true);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  /** Size of the log: the offset the next record will have. */
  get size(): number {
    return this.#size;
  }

  /**
   * Appends one record (a message, a plain object, or an already encoded kv message). Resolves
   * to the record's offset once it is written (and synced, with `fsync`).
   */
  append(message: KvMessage | KvObject | Uint8Array): Promise<number> {
    if (this.#closed) return Promise.reject(new KvError("EKV_CLOSED", "kv: the log writer is closed"));
    const bytes = encodeKvRecord(message);
    return new Promise<number>((resolve, reject) => {
      this.#queue.push({ bytes, resolve, reject });
      this.#writing ??= this.#drain();
    });
  }

  /** Waits for pending appends, then fsyncs the file. */
  async sync(): Promise<void> {
    await this.#writing;
    await this.#handle.sync();
  }

  /** Waits for pending appends and closes the file. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#writing;
    await this.#handle.close();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue;
      this.#queue = [];
      const offsets: number[] = [];
      let at = this.#size;
      for (const item of batch) {
        offsets.push(at);
        at += item.bytes.length;
      }
      try {
        // The file is open with O_APPEND, so each writev lands at the end even if something
        // else appended; records are never interleaved because only this loop writes.
        await writeAll(
          this.#handle,
          batch.map((item) => item.bytes),
        );
        if (this.#fsync) await this.#handle.sync();
        this.#size = at;
        batch.forEach((item, i) => item.resolve(offsets[i] as number));
      } catch (error) {
        for (const item of batch) item.reject(error);
      }
    }
    this.#writing = undefined;
  }
}

/** writev until every byte is written (a regular file rarely takes less, but may). */
async function writeAll(handle: FileHandle, buffers: Uint8Array[]): Promise<void> {
  let total = 0;
  for (const buffer of buffers) total += buffer.length;
  let { bytesWritten } = await handle.writev(buffers);
  while (bytesWritten < total) {
    const rest: Uint8Array[] = [];
    let skip = bytesWritten;
    for (const buffer of buffers) {
      if (skip >= buffer.length) skip -= buffer.length;
      else {
        rest.push(buffer.subarray(skip));
        skip = 0;
      }
    }
    buffers = rest;
    total -= bytesWritten;
    ({ bytesWritten } = await handle.writev(buffers));
  }
}
