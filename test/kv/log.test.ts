// Append-only kv log files, with real files in a temporary directory: records survive, a torn
// tail (a record cut short by a crash) is found and reported with its offset, and a writer
// reopening the file cuts the tail before appending.
import { appendFile, mkdtemp, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  encodeKvRecord,
  KvDecodeError,
  KvLogReader,
  KvLogWriter,
  KvRecordDecoder,
  readKvLog,
} from "../../kv/index.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-kv-log-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const objects = (records: { message: { toObject(): unknown } }[]) =>
  records.map((record) => record.message.toObject());

async function writeLog(path: string, count: number): Promise<number[]> {
  const writer = await KvLogWriter.open(path);
  const offsets = await Promise.all(
    Array.from({ length: count }, (_, i) => writer.append({ n: String(i), pad: "x".repeat(i) })),
  );
  await writer.close();
  return offsets;
}

describe("kv log files", () => {
  it("reads back what was appended, with offsets, in order", async () => {
    const path = join(dir, "a.kvlog");
    const offsets = await writeLog(path, 50);
    const { records, end, tail } = await readKvLog(path);
    expect(tail).toBeUndefined();
    expect(records.map((record) => record.offset)).toEqual(offsets);
    expect(objects(records)).toEqual(
      Array.from({ length: 50 }, (_, i) => ({ n: [String(i)], pad: ["x".repeat(i)] })),
    );
    expect(end).toBe((await readFile(path)).length);
  });

  it("reports a truncated last record as a torn tail; earlier records survive", async () => {
    const path = join(dir, "torn.kvlog");
    const offsets = await writeLog(path, 5);
    const complete = await readFile(path);
    for (const cut of [
      complete.length - 1,
      complete.length - 5,
      (offsets[4] as number) + 2,
      (offsets[4] as number) + 1,
    ]) {
      await writeFile(path, complete);
      await truncate(path, cut);
      const { records, tail } = await readKvLog(path);
      expect(records).toHaveLength(4);
      expect(tail?.offset).toBe(offsets[4]);
      expect(tail?.length).toBe(cut - (offsets[4] as number));
      expect(tail?.error).toBeInstanceOf(KvDecodeError);
      expect(tail?.error.code).toBe("EKV_TRUNCATED");
    }
  });

  it("reports a zero-filled tail (a crash after the file grew) the same way", async () => {
    const path = join(dir, "zeros.kvlog");
    const offsets = await writeLog(path, 3);
    const size = (await readFile(path)).length;
    await appendFile(path, new Uint8Array(4096));
    const { records, tail } = await readKvLog(path);
    expect(records).toHaveLength(3);
    expect(tail).toMatchObject({ offset: size, length: 4096 });
    expect(tail?.error.code).toBe("EKV_DIGIT");
    expect(offsets).toHaveLength(3);
  });

  it("can throw instead of reporting the tail", async () => {
    const path = join(dir, "strict.kvlog");
    await writeLog(path, 2);
    await appendFile(path, "12:000;");
    const reader = new KvLogReader(path, { onTornTail: "throw" });
    const seen: unknown[] = [];
    await expect(
      (async () => {
        for await (const record of reader) seen.push(record);
      })(),
    ).rejects.toThrow(KvDecodeError);
    expect(seen).toHaveLength(2);
  });

  it("cuts the torn tail when a writer opens the file, then appends after the last good record", async () => {
    const path = join(dir, "repair.kvlog");
    const offsets = await writeLog(path, 3);
    const goodSize = (await readFile(path)).length;
    await appendFile(path, "40:000;5:hel");
    const writer = await KvLogWriter.open(path);
    expect(writer.recovered?.offset).toBe(goodSize);
    expect(writer.recovered?.length).toBe(12);
    expect(writer.existingRecords).toBe(3);
    expect(writer.size).toBe(goodSize);
    expect(await writer.append({ after: "crash" })).toBe(goodSize);
    await writer.close();
    const { records, tail } = await readKvLog(path);
    expect(tail).toBeUndefined();
    expect(records.map((record) => record.offset)).toEqual([...offsets, goodSize]);
    expect(records[3]?.message.toObject()).toEqual({ after: ["crash"] });
  });

  it("refuses to open a torn file when asked to", async () => {
    const path = join(dir, "refuse.kvlog");
    await writeLog(path, 1);
    await appendFile(path, "9");
    await expect(KvLogWriter.open(path, { onTornTail: "throw" })).rejects.toThrow(KvDecodeError);
    expect((await readFile(path)).at(-1)).toBe(0x39); // untouched
  });

  it("treats a complete record with a broken message as corruption, not a torn tail", async () => {
    const path = join(dir, "corrupt.kvlog");
    await writeFile(path, Buffer.concat([encodeKvRecord({ ok: "1" }), Buffer.from("6:000;x,,")]));
    // The record at byte 20 holds "000;x,,": the bad byte is 4 bytes into its message at 22.
    await expect(readKvLog(path)).rejects.toMatchObject({ code: "EKV_DIGIT", offset: 26 });
  });

  it("syncs, and refuses appends after close", async () => {
    const path = join(dir, "sync.kvlog");
    const writer = await KvLogWriter.open(path, { fsync: true });
    await writer.append({ a: "1" });
    await writer.sync();
    await writer.close();
    await expect(writer.append({ b: "2" })).rejects.toMatchObject({ code: "EKV_CLOSED" });
    expect((await readKvLog(path)).records).toHaveLength(1);
  });
});

describe("KvRecordDecoder", () => {
  it("finds records whatever the chunk boundaries", () => {
    const stream = Buffer.concat([
      encodeKvRecord({ a: "1" }),
      encodeKvRecord({ b: "x".repeat(300) }),
      encodeKvRecord({}),
      encodeKvRecord({ c: ["é", "😀"] }),
    ]);
    const expected = [{ a: ["1"] }, { b: ["x".repeat(300)] }, {}, { c: ["é", "😀"] }];
    for (const size of [1, 2, 3, 7, 64, stream.length]) {
      const decoder = new KvRecordDecoder();
      const seen = [];
      for (let at = 0; at < stream.length; at += size)
        seen.push(...decoder.push(stream.subarray(at, at + size)));
      decoder.end();
      expect(objects(seen)).toEqual(expected);
      expect(decoder.offset).toBe(stream.length);
    }
  });

  it("reports bad framing with absolute offsets", () => {
    const decoder = new KvRecordDecoder({ startOffset: 100 });
    decoder.push(encodeKvRecord({ a: "1" }));
    expect(() => decoder.push(Buffer.from("5:000;x;"))).toThrow(
      expect.objectContaining({ code: "EKV_COMMA" }),
    );
    expect(() => new KvRecordDecoder().push(Buffer.from("x"))).toThrow(
      expect.objectContaining({ code: "EKV_DIGIT", offset: 0 }),
    );
    expect(() => new KvRecordDecoder().push(Buffer.from("01:"))).toThrow(
      expect.objectContaining({ code: "EKV_LEADING_ZERO" }),
    );
    expect(() => new KvRecordDecoder({ maxRecordLength: 10 }).push(Buffer.from("11"))).toThrow(
      expect.objectContaining({ code: "EKV_TOO_LONG" }),
    );
    const partial = new KvRecordDecoder();
    partial.push(Buffer.from("4:000"));
    expect(partial.pending).toBe(5);
    expect(() => partial.end()).toThrow(expect.objectContaining({ code: "EKV_TRUNCATED", offset: 0 }));
  });
});
