// The outgoing batch of a connection and the request-id table: what goes out must be exactly
// the frames of PROTOCOL.md, however they were written (in place, copied, uncopied chunks).
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FrameType, withRequestId } from "../../wire/frame.js";
import { IdTable } from "../../wire/id-table.js";
import { Outbox } from "../../wire/outbox.js";

const concat = (chunks: Uint8Array[]): Buffer => Buffer.concat(chunks);

describe("Outbox", () => {
  it("writes the same bytes as encodeFrame, whichever way a frame is queued", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.constantFrom("frame", "message", "in place", "data"),
            fc.uint8Array({ maxLength: 5000 }),
          ),
          { maxLength: 40 },
        ),
        (steps) => {
          const outbox = new Outbox();
          const expected: Uint8Array[] = [];
          const sent: Uint8Array[] = [];
          steps.forEach(([how, body], i) => {
            if (how === "frame") {
              outbox.frame(FrameType.EVENT, i, body);
              expected.push(encodeFrame(FrameType.EVENT, i, body));
            } else if (how === "message") {
              outbox.message(FrameType.REQUEST, i, i + 1, body, 0, body.length, 0);
              expected.push(encodeFrame(FrameType.REQUEST, i, withRequestId(i + 1, body)));
            } else if (how === "in place") {
              const at = outbox.beginMessage(4);
              if (at + body.length <= outbox.slab.length) {
                outbox.slab.set(body, at);
                outbox.commitMessage(FrameType.REPLY, i, i + 1, at, at + body.length, 0);
              } else {
                outbox.message(FrameType.REPLY, i, i + 1, body, 0, body.length, 0);
              }
              expected.push(encodeFrame(FrameType.REPLY, i, withRequestId(i + 1, body)));
            } else {
              outbox.data(i, body);
              expected.push(encodeFrame(FrameType.DATA, i, body));
            }
            if (i % 7 === 6) sent.push(...outbox.take().chunks);
          });
          sent.push(...outbox.take().chunks);
          expect(concat(sent).equals(concat(expected))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("starts an idle connection on a small slab and grows it to full size while busy", () => {
    const outbox = new Outbox();
    // A session that sends little holds 8 KiB, not 64 KiB (most of an idle Unix session's memory).
    expect(outbox.slab.byteLength).toBeLessThanOrEqual(8 * 1024);
    // A frame as large as a slab may take (16 KiB) fits on a fresh outbox too.
    const large = new Uint8Array(16 * 1024).fill(7);
    outbox.frame(FrameType.EVENT, 1, large);
    expect(concat(outbox.take().chunks).equals(encodeFrame(FrameType.EVENT, 1, large))).toBe(true);
    const body = new Uint8Array(100).fill(3);
    const expected: Uint8Array[] = [];
    const sent: Uint8Array[] = [];
    for (let i = 0; i < 3000; i++) {
      outbox.frame(FrameType.EVENT, i, body);
      expected.push(encodeFrame(FrameType.EVENT, i, body));
      if (i % 50 === 49) sent.push(...outbox.take().chunks);
    }
    sent.push(...outbox.take().chunks);
    expect(concat(sent).equals(concat(expected))).toBe(true);
    expect(outbox.slab.byteLength).toBe(64 * 1024);
  });

  it("never writes again into bytes it handed out", () => {
    const outbox = new Outbox();
    const batches: { chunk: Uint8Array; copy: Buffer }[] = [];
    for (let i = 0; i < 3000; i++) {
      const at = outbox.beginMessage(0);
      outbox.slab.fill(i & 0xff, at, at + 40);
      outbox.commitMessage(FrameType.EVENT, 1, -1, at, at + 40, 0);
      if (i % 10 === 0) {
        for (const chunk of outbox.take().chunks) batches.push({ chunk, copy: Buffer.from(chunk) });
      }
    }
    for (const { chunk, copy } of batches) expect(Buffer.from(chunk).equals(copy)).toBe(true);
  });

  it("sends stream bytes uncopied, and counts frames and bytes", () => {
    const outbox = new Outbox();
    const chunk = new Uint8Array(70_000);
    outbox.frame(FrameType.WINDOW, 3, new Uint8Array(4));
    outbox.data(3, chunk);
    expect(outbox.frames).toBe(2);
    expect(outbox.bytes).toBe(16 + 12 + 70_000);
    const { chunks, fds } = outbox.take();
    expect(chunks[chunks.length - 1]).toBe(chunk);
    expect(fds).toEqual([]);
    expect(outbox.frames).toBe(0);
    const frames = new FrameDecoder(1 << 20).push(concat(chunks));
    expect(frames.map((frame) => frame.type)).toEqual([FrameType.WINDOW, FrameType.DATA]);
  });

  it("refuses to commit a message when a frame was queued since it began", () => {
    const outbox = new Outbox();
    const at = outbox.beginMessage(0);
    outbox.frame(FrameType.PING, 0, new Uint8Array(8));
    expect(() => outbox.commitMessage(FrameType.EVENT, 1, -1, at, at + 1, 0)).toThrow(/while a message/);
  });
});

describe("IdTable", () => {
  it("behaves like a Map under any mix of operations", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom("set", "delete", "get"), fc.integer({ min: 1, max: 20_000 }))),
        (operations) => {
          const table = new IdTable<string>();
          const model = new Map<number, string>();
          for (const [operation, id] of operations) {
            if (operation === "set" && !model.has(id)) {
              table.set(id, `v${id}`);
              model.set(id, `v${id}`);
            } else if (operation === "delete") {
              expect(table.delete(id)).toBe(model.delete(id));
            }
            expect(table.get(id)).toBe(model.get(id));
            expect(table.size).toBe(model.size);
          }
          expect(table.values().sort()).toEqual([...model.values()].sort());
          expect(table.takeAll().sort()).toEqual([...model.values()].sort());
          expect(table.size).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("keeps a long-lived id while many more come and go (sequential ids, bounded growth)", () => {
    const table = new IdTable<number>();
    table.set(1, 1);
    let wrong = 0;
    for (let id = 2; id < 30_000; id++) {
      table.set(id, id);
      if (table.get(id) !== id || table.get(1) !== 1 || !table.delete(id)) wrong++;
    }
    expect(wrong).toBe(0);
    expect(table.get(1)).toBe(1);
    expect(table.size).toBe(1);
  });
});
