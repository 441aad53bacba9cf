// How a session's frames leave in writes, over a real socketpair (the Unix transport's FdSocket):
// a burst of answers goes out in growing slices so the peer starts on the first ones, a burst of
// EVENTs (a pub/sub fan-out, bounded by the peer's credit) in one write at the end of the turn —
// a write per 16-32 events was half of the hub's CPU per delivery.
import { afterEach, describe, expect, it } from "vitest";
import { FdSocket, socketPair } from "../../fd/index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import { BatchedWriter } from "../../wire/batched-writer.js";
import { Congestion } from "../../wire/congestion.js";
import { FrameDecoder, FrameType, type Frame } from "../../wire/frame.js";
import { MemoryBudget } from "../../wire/memory-budget.js";

const sockets: FdSocket[] = [];

afterEach(() => {
  for (const socket of sockets.splice(0)) socket.destroy();
});

/** A writer on one end of a socketpair, and what the other end decodes. */
function writerPair(): {
  writer: BatchedWriter;
  sender: FdSocket;
  received(count: number): Promise<Frame[]>;
} {
  const [a, b] = socketPair();
  // The hub's Unix sessions batch at the microtask, as here (unix-listener.ts).
  const sender = FdSocket.fromFd(a, { batching: "microtask" });
  const reader = FdSocket.fromFd(b);
  sockets.push(sender, reader);
  const transport = transportFor(sender);
  const congestion = new Congestion(
    transport,
    {
      memoryBudget: new MemoryBudget(64 * 1024 * 1024),
      maxUnsentBytes: 64 * 1024 * 1024,
      slowConsumerTimeout: 10_000,
    },
    (reason) => {
      throw new Error(`slow consumer: ${reason}`);
    },
  );
  const writer = new BatchedWriter(transport, congestion);
  const decoder = new FrameDecoder(1024 * 1024);
  const frames: Frame[] = [];
  let waiting: (() => void) | undefined;
  reader.on("data", (chunk: Uint8Array) => {
    // Payloads are views of the chunk: copied, the chunk is the socket's to reuse.
    for (const frame of decoder.push(chunk)) frames.push({ ...frame, payload: frame.payload.slice() });
    waiting?.();
  });
  return {
    writer,
    sender,
    received: (count) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${frames.length} of ${count} frames within 10 s`)),
          10_000,
        );
        waiting = () => {
          if (frames.length < count) return;
          clearTimeout(timer);
          resolve(frames);
        };
        waiting();
      }),
  };
}

/** Queues `count` frames of `type` on channel 5 in one synchronous burst, body = its index (+ `mark`). */
function burst(writer: BatchedWriter, type: number, count: number, mark = 0): void {
  for (let i = 0; i < count; i++) {
    const body = new Uint8Array(64).fill((i + mark) & 0xff);
    writer.outbox.message(type, 5, type === FrameType.EVENT ? -1 : i + 1, body, 0, body.byteLength, 0);
    writer.queued();
  }
}

describe("BatchedWriter", () => {
  it("sends a turn's burst of events in one write, every frame intact and in order", async () => {
    const { writer, sender, received } = writerPair();
    burst(writer, FrameType.EVENT, 128);
    const frames = await received(128);
    expect(frames.map((frame) => [frame.type, frame.id, frame.payload[0], frame.payload.byteLength])).toEqual(
      Array.from({ length: 128 }, (_, i) => [FrameType.EVENT, 5, i, 64]),
    );
    expect(sender.stats.sendCalls).toBe(1);
  });

  it("still cuts a turn's burst of answers into growing slices (16, 32, 64, then the rest)", async () => {
    const { writer, sender, received } = writerPair();
    burst(writer, FrameType.REPLY, 128);
    const frames = await received(128);
    expect(frames.every((frame, i) => frame.type === FrameType.REPLY && frame.payload[4] === i)).toBe(true);
    expect(sender.stats.sendCalls).toBe(4);
  });

  it("writes the same slab again once the socket let go of what it sent, bytes intact", async () => {
    const { writer, received } = writerPair();
    // 40 turns of 128 events (~10 KiB each): 400 KiB through the slab, which reaches 64 KiB.
    const slabs = new Set<Uint8Array>();
    let expected = 0;
    for (let turn = 0; turn < 40; turn++) {
      burst(writer, FrameType.EVENT, 128, turn);
      if (turn >= 3) slabs.add(writer.outbox.slab);
      expected += 128;
      const frames = await received(expected);
      // Every frame of this turn is its own bytes, not those of a later turn written over it.
      const mine = frames.slice(expected - 128);
      expect(mine.every((frame, i) => frame.payload.every((byte) => byte === ((i + turn) & 0xff)))).toBe(
        true,
      );
    }
    // Once grown, one slab serves every turn: nothing was still held when the next one began.
    expect(slabs.size).toBe(1);
  });

  it("never writes over bytes a transport may still hold (without releasesChunks)", async () => {
    const chunks: Uint8Array[] = [];
    const transport = {
      supportsFds: false,
      write: (batch: Uint8Array[]) => void chunks.push(...batch),
      start() {},
      close() {},
    };
    const congestion = new Congestion(
      transport,
      { memoryBudget: new MemoryBudget(1 << 26), maxUnsentBytes: 1 << 26, slowConsumerTimeout: 10_000 },
      () => undefined,
    );
    const writer = new BatchedWriter(transport, congestion);
    for (let turn = 0; turn < 40; turn++) {
      burst(writer, FrameType.EVENT, 128, turn);
      writer.flush();
    }
    const frames = new FrameDecoder(1 << 20).push(Buffer.concat(chunks));
    expect(frames).toHaveLength(40 * 128);
    expect(
      frames.every((frame, at) => frame.payload[0] === (((at % 128) + Math.floor(at / 128)) & 0xff)),
    ).toBe(true);
  });

  it("counts only answers toward a slice when events and answers mix", async () => {
    const { writer, sender, received } = writerPair();
    // 200 events and 15 answers: no slice is due (the answers are fewer than 16).
    burst(writer, FrameType.EVENT, 200);
    burst(writer, FrameType.REPLY, 15);
    await received(215);
    expect(sender.stats.sendCalls).toBe(1);
  });
});
