import { rename, rm } from "node:fs/promises";
import { KvLogReader, KvLogWriter } from "../kv/log.js";
import type { KvObject } from "../kv/types.js";
import { lockLog } from "./log-lock.js";
import type { TaskResult } from "./messages.js";
import type { StoredTask, TaskStore } from "./task-store.js";

/** Records appended past this many times the live ones trigger a compaction (and at least this many). */
const COMPACT_RATIO = 4;
const COMPACT_MIN_RECORDS = 1000;

/**
 * Keeps a hub's tasks in a kv append-only log (kv/log.ts): one record per posted task, per
 * result and per sweep. A crash can tear only the last record, which the log cuts on open, so
 * everything acknowledged survives. When dead records (expired tasks, replaced results)
 * outnumber live ones, the log is rewritten from memory into a new file that replaces the old
 * one by rename: the file never grows without bound, and a crash mid-compaction leaves the old.
 */
export class TaskLog {
  #writer: KvLogWriter;
  #records: number;
  #queue: Promise<unknown> = Promise.resolve();

  readonly #unlock: () => Promise<void>;

  private constructor(
    readonly file: string,
    writer: KvLogWriter,
    private readonly store: TaskStore,
    unlock: () => Promise<void>,
  ) {
    this.#writer = writer;
    this.#unlock = unlock;
    this.#records = writer.existingRecords;
  }

  /** Reads `file` (if it exists) into `store`, expired tasks left out, and opens it for appending. */
  static async open(file: string, store: TaskStore): Promise<TaskLog> {
    const unlock = await lockLog(file);
    try {
      return await TaskLog.#read(file, store, unlock);
    } catch (error) {
      await unlock();
      throw error;
    }
  }

  static async #read(file: string, store: TaskStore, unlock: () => Promise<void>): Promise<TaskLog> {
    const writer = await KvLogWriter.open(file);
    const tasks = new Map<string, StoredTask>();
    for await (const { message } of new KvLogReader(file)) {
      const op = message.first("op");
      if (op === "task") {
        const stored = JSON.parse(message.first("task") ?? "null") as {
          task: StoredTask["task"];
          expiresAt: number;
        };
        tasks.set(stored.task.id, { task: stored.task, expiresAt: stored.expiresAt, results: new Map() });
      } else if (op === "result") {
        const result = JSON.parse(message.first("result") ?? "null") as TaskResult;
        tasks.get(result.task)?.results.set(result.from, result);
      } else if (op === "remove") {
        for (const id of message.getStrings("id") ?? []) tasks.delete(id);
      }
    }
    const now = Date.now();
    for (const stored of tasks.values()) if (stored.expiresAt > now) store.restore(stored);
    return new TaskLog(file, writer, store, unlock);
  }

  posted(stored: StoredTask): Promise<void> {
    return this.#append({
      op: "task",
      task: JSON.stringify({ task: stored.task, expiresAt: stored.expiresAt }),
    });
  }

  resulted(_stored: StoredTask, result: TaskResult): Promise<void> {
    return this.#append({ op: "result", result: JSON.stringify(result) });
  }

  removed(tasks: readonly StoredTask[]): Promise<void> {
    return this.#append({ op: "remove", id: tasks.map((stored) => stored.task.id) });
  }

  /** Waits for what is being written and closes the file. */
  close(): Promise<void> {
    return this.#serial(async () => {
      await this.#writer.close();
      await this.#unlock();
    });
  }

  #append(record: KvObject): Promise<void> {
    return this.#serial(async () => {
      await this.#writer.append(record);
      this.#records++;
      if (this.#records >= COMPACT_MIN_RECORDS && this.#records > COMPACT_RATIO * this.#liveRecords()) {
        await this.#compact();
      }
    });
  }

  #serial<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(step);
    this.#queue = next.catch(() => {});
    return next;
  }

  #liveRecords(): number {
    let count = 0;
    for (const stored of this.store.all()) count += 1 + stored.results.size;
    return count;
  }

  async #compact(): Promise<void> {
    const next = `${this.file}.compact`;
    await rm(next, { force: true });
    const writer = await KvLogWriter.open(next, { fsync: true });
    const appends: Promise<number>[] = [];
    const now = Date.now();
    for (const stored of this.store.all()) {
      if (stored.expiresAt <= now) continue;
      appends.push(
        writer.append({
          op: "task",
          task: JSON.stringify({ task: stored.task, expiresAt: stored.expiresAt }),
        }),
      );
      for (const result of stored.results.values())
        appends.push(writer.append({ op: "result", result: JSON.stringify(result) }));
    }
    const records = appends.length;
    await Promise.all(appends);
    await writer.close();
    await this.#writer.close();
    await rename(next, this.file);
    this.#writer = await KvLogWriter.open(this.file);
    this.#records = records;
  }
}
