// The write queue's batching rules, without any I/O.
import { describe, expect, it } from "vitest";
import { COALESCE_BYTES, MAX_FDS_PER_SENDMSG, MAX_IOV, WriteQueue } from "../../fd/write-queue.js";

const bytes = (n: number, fill = 1): Buffer => Buffer.alloc(n, fill);
const range = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);

describe("WriteQueue", () => {
  it("coalesces many small writes into one buffer, fds on the first byte", () => {
    const q = new WriteQueue();
    for (let i = 0; i < 10; i++) q.push([Buffer.from([i])], i % 3 === 0 ? [100 + i] : null);
    const batch = q.peek();
    expect(batch).not.toBeNull();
    expect(batch?.chunks).toHaveLength(1);
    expect([...(batch?.chunks[0] ?? [])]).toEqual(range(0, 10));
    expect(batch?.fds).toEqual([100, 103, 106, 109]);
    q.consume(10);
    expect(q.empty).toBe(true);
    expect(q.bytes).toBe(0);
    expect(q.fds).toBe(0);
  });

  it("splits more than 253 fds: one data byte per extra group, never an fd batch without bytes", () => {
    const q = new WriteQueue();
    const fds = range(1000, 600);
    q.push([bytes(3), bytes(5)], fds);
    const groups: number[][] = [];
    for (let batch = q.peek(); batch !== null; batch = q.peek()) {
      expect(batch.bytes).toBeGreaterThan(0);
      expect(batch.fds?.length ?? 0).toBeLessThanOrEqual(MAX_FDS_PER_SENDMSG);
      groups.push(batch.fds ?? []);
      q.consume(batch.bytes);
    }
    expect(groups.map((g) => g.length)).toEqual([253, 253, 94]);
    expect(groups.flat()).toEqual(fds);
    expect(WriteQueue.minBytesFor(600)).toBe(3);
    expect(WriteQueue.minBytesFor(253)).toBe(1);
    expect(() => q.push([bytes(1)], range(0, 254))).toThrow(RangeError);
  });

  it("does not merge writes whose fds together exceed one sendmsg", () => {
    const q = new WriteQueue();
    q.push([bytes(10)], range(0, 200));
    q.push([bytes(10)], range(200, 100));
    expect(q.peek()?.fds).toHaveLength(200);
    q.consume(10);
    expect(q.peek()?.fds).toHaveLength(100);
  });

  it("after a short send, the rest goes without fds (they left with the first byte)", () => {
    const q = new WriteQueue();
    const big = bytes(COALESCE_BYTES * 2);
    q.push([big], [7]);
    q.push([big], [8]);
    const first = q.peek();
    expect(first?.chunks).toHaveLength(2); // big chunks are not copied
    expect(first?.fds).toEqual([7, 8]);
    q.consume(100);
    expect(q.fds).toBe(0);
    const rest = q.peek();
    expect(rest?.fds).toBeNull();
    expect(rest?.bytes).toBe(big.length * 2 - 100);
    q.consume(rest?.bytes ?? 0);
    expect(q.empty).toBe(true);
  });

  it("caps a batch at IOV_MAX chunks", () => {
    const q = new WriteQueue();
    for (let i = 0; i < MAX_IOV + 10; i++) q.push([bytes(COALESCE_BYTES)], null);
    expect(q.peek()?.chunks.length).toBeLessThanOrEqual(MAX_IOV);
  });

  it("hands back the fds it still owns on clear", () => {
    const q = new WriteQueue();
    q.push([bytes(1)], [1, 2]);
    q.push([bytes(1)], [3]);
    q.peek();
    expect(q.clear().sort()).toEqual([1, 2, 3]);
    expect(q.empty).toBe(true);
  });

  it("accepts Uint8Array views and skips empty chunks", () => {
    const q = new WriteQueue();
    const base = new Uint8Array([9, 9, 1, 2, 3, 9]);
    q.push([new Uint8Array(0), base.subarray(2, 5)], [5]);
    const batch = q.peek();
    expect([...(batch?.chunks[0] ?? [])]).toEqual([1, 2, 3]);
    expect(batch?.fds).toEqual([5]);
  });
});
