import { rename, rm } from "node:fs/promises";
import { cborCodec } from "../codecs/cbor.js";
import { lockFile } from "../kv/file-lock.js";
import { KvLogReader, KvLogWriter } from "../kv/log.js";
import type { KvValue } from "../kv/types.js";
import type { PubSubMessage, PubSubPersistence } from "./types.js";

/** Records appended past this many times the kept ones trigger a compaction (and at least this many). */
const COMPACT_RATIO = 4;
const COMPACT_MIN_RECORDS = 1000;

/** Options of {@link PubSubLog.open}. */
export interface PubSubLogOptions {
  /** fsync each batch of appends before `publish` resolves (default false: the OS decides). */
  fsync?: boolean;
}

/**
 * Keeps pub/sub history in a kv append-only log (kv/log.ts): one record per publication,
 * `{c: channel, f: from, s: seq, t: time, d: CBOR of the data}`. A crash can tear only the last
 * record, which is cut on open, so every acknowledged publication survives. The log holds more
 * than history keeps (history forgets, a log only appends): once it holds {@link COMPACT_RATIO}
 * times what history keeps, it is rewritten from memory into a new file that replaces the old by
 * rename, so it never grows without bound and a crash mid-compaction leaves the old one.
 * A `<file>.lock` keeps a second hub from writing the same file.
 */
export class PubSubLog implements PubSubPersistence {
  #writer: KvLogWriter;
  #records: number;
  #queue: Promise<unknown> = Promise.resolve();
  #live: () => Iterable<readonly [string, readonly PubSubMessage[]]> = () => [];
  /** The record count at which the next compaction check runs (counting live records costs a walk). */
  #nextCheck: number;

  private constructor(
    readonly file: string,
    writer: KvLogWriter,
    readonly restored: ReadonlyMap<string, readonly PubSubMessage[]>,
    private readonly unlock: () => Promise<void>,
    private readonly fsync: boolean,
  ) {
    this.#writer = writer;
    this.#records = writer.existingRecords;
    this.#nextCheck = Math.max(COMPACT_MIN_RECORDS, this.#records * 2);
  }

  /** Opens (creating if needed) `file`, reading the history it holds. */
  static async open(file: string, options: PubSubLogOptions = {}): Promise<PubSubLog> {
    const unlock = await lockFile(file);
    try {
      const fsync = options.fsync === true;
      const writer = await KvLogWriter.open(file, { fsync });
      const restored = new Map<string, PubSubMessage[]>();
      for await (const { message } of new KvLogReader(file)) {
        const channel = message.first("c");
        const from = message.first("f");
        const seq = Number(message.first("s"));
        const time = Number(message.first("t"));
        const data = message.getBytes("d")?.[0];
        if (typeof channel !== "string" || typeof from !== "string" || data === undefined) continue;
        let list = restored.get(channel);
        if (list === undefined) restored.set(channel, (list = []));
        list.push({ from, seq, time, data: cborCodec.decode(data) });
      }
      return new PubSubLog(file, writer, restored, unlock, fsync);
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  /** Encodes now, so a value that cannot be kept fails the publish before anyone gets it. */
  prepare(data: unknown): Uint8Array {
    return cborCodec.encode(data);
  }

  append(channel: string, message: PubSubMessage, prepared: unknown): Promise<void> {
    const record = toRecord(channel, message, prepared as Uint8Array);
    return this.#serial(async () => {
      await this.#writer.append(record);
      this.#records++;
      if (this.#records >= this.#nextCheck) await this.#maybeCompact();
    });
  }

  setLive(live: () => Iterable<readonly [string, readonly PubSubMessage[]]>): void {
    this.#live = live;
  }

  /** Waits for what is being written, closes the file and releases its lock. */
  close(): Promise<void> {
    return this.#serial(async () => {
      await this.#writer.close();
      await this.unlock();
    });
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(step);
    this.#queue = next.catch(() => {});
    return next;
  }

  async #maybeCompact(): Promise<void> {
    let live = 0;
    for (const [, messages] of this.#live()) live += messages.length;
    if (this.#records > COMPACT_RATIO * live) await this.#compact();
    this.#nextCheck = this.#records + Math.max(COMPACT_MIN_RECORDS, COMPACT_RATIO * live);
  }

  async #compact(): Promise<void> {
    const next = `${this.file}.compact`;
    await rm(next, { force: true });
    const writer = await KvLogWriter.open(next, { fsync: true });
    const appends: Promise<number>[] = [];
    for (const [channel, messages] of this.#live()) {
      for (const message of messages) {
        appends.push(writer.append(toRecord(channel, message, cborCodec.encode(message.data))));
      }
    }
    await Promise.all(appends);
    await writer.close();
    await this.#writer.close();
    await rename(next, this.file);
    this.#writer = await KvLogWriter.open(this.file, { fsync: this.fsync });
    this.#records = appends.length;
  }
}

function toRecord(channel: string, message: PubSubMessage, data: Uint8Array): Record<string, KvValue> {
  return { c: channel, f: message.from, s: String(message.seq), t: String(message.time), d: data };
}
