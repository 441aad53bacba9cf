// Two copies of a kv message kept in sync by change records, over a simulated byte stream and
// through a log file.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  decodeKvChange,
  encodeKvChange,
  encodeKvRecord,
  KvDecodeError,
  KvError,
  KvLogWriter,
  KvMessage,
  KvRecordDecoder,
  KvReplica,
  KvSyncSource,
  readKvLog,
} from "../../kv/index.js";
import type { KvObject } from "../../kv/index.js";

describe("kv sync", () => {
  it("keeps a replica equal to its source, change by change", () => {
    const source = new KvSyncSource();
    const replica = new KvReplica();
    source.onChange((record) => replica.apply(record));
    source.set("hello", "world");
    source.add("list", "a", "b");
    source.add("list", "c");
    source.set("bin", new Uint8Array([0, 255]));
    source.delete("hello");
    expect(replica.seq).toBe(5);
    expect(replica.state.equals(source.state)).toBe(true);
    expect(replica.state.toObject()).toEqual({ bin: [new Uint8Array([0, 255])], list: ["a", "b", "c"] });
  });

  it("ignores re-delivered records and refuses gaps", () => {
    const source = new KvSyncSource();
    const records = [source.set("a", "1"), source.set("b", "2"), source.set("c", "3")];
    const replica = new KvReplica();
    expect(replica.apply(records[0] as Uint8Array)).toBe(true);
    expect(replica.apply(records[0] as Uint8Array)).toBe(false);
    expect(() => replica.apply(records[2] as Uint8Array)).toThrow(
      expect.objectContaining({ code: "EKV_SEQ_GAP" }),
    );
    expect(replica.apply(records[1] as Uint8Array)).toBe(true);
    expect(replica.apply(records[2] as Uint8Array)).toBe(true);
    expect(replica.state.equals(source.state)).toBe(true);
  });

  it("starts a late replica from a snapshot, then follows", () => {
    const source = new KvSyncSource(KvMessage.fromObject({ start: "yes" }));
    source.set("a", "1");
    const late = new KvReplica();
    late.apply(source.snapshot());
    expect(late.seq).toBe(1);
    late.apply(source.add("a", "2"));
    expect(late.state.toObject()).toEqual({ a: ["1", "2"], start: ["yes"] });
  });

  it("travels over a byte stream framed as records", () => {
    const source = new KvSyncSource();
    const wire: Uint8Array[] = [];
    source.onChange((record) => wire.push(encodeKvRecord(record)));
    for (let i = 0; i < 20; i++) source.add("n", String(i));
    const replica = new KvReplica();
    const bytes = Buffer.concat(wire);
    const decoder = new KvRecordDecoder();
    for (let at = 0; at < bytes.length; at += 13) {
      for (const { message } of decoder.push(bytes.subarray(at, at + 13))) replica.apply(message);
    }
    expect(replica.state.equals(source.state)).toBe(true);
  });

  it("persists through a log: replaying it rebuilds the state", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-kv-sync-"));
    try {
      const path = join(dir, "changes.kvlog");
      const writer = await KvLogWriter.open(path);
      const source = new KvSyncSource();
      const appended: Promise<number>[] = [];
      source.onChange((record) => appended.push(writer.append(record)));
      source.set("user", "ada");
      source.add("roles", "admin", "dev");
      source.delete("user");
      await Promise.all(appended);
      await writer.close();
      const replica = new KvReplica();
      for (const { message } of (await readKvLog(path)).records) replica.apply(message);
      expect(replica.state.equals(source.state)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("does not change the state when a change cannot be encoded", () => {
    const source = new KvSyncSource();
    expect(() => source.set("k", "\ud800")).toThrow(KvError);
    expect(source.seq).toBe(0);
    expect(source.state.size).toBe(0);
  });

  it("refuses malformed change records", () => {
    const bad: KvObject[] = [
      { op: ["set"], key: ["k"], value: ["v"] },
      { seq: ["01"], op: ["set"], key: ["k"], value: ["v"] },
      { seq: ["1"], op: ["rename"], key: ["k"] },
      { seq: ["1"], op: ["set"], value: ["v"] },
      { seq: ["1"], op: ["set"], key: ["k"] },
      { seq: ["1"], op: ["delete"], key: ["a", "b"] },
      { seq: ["1"], op: ["reset"], value: ["not kv"] },
    ];
    for (const object of bad) {
      expect(() => decodeKvChange(KvMessage.fromObject(object))).toThrow(KvDecodeError);
    }
    expect(() => encodeKvChange({ op: "delete", key: "k" }, -1)).toThrow(KvError);
  });
});
