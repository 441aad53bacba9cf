// Byte stream ports (ByteStream.openPort): the raw path splices use. Every mix of a raw side and
// a web-streams side of an in-memory pair must keep order, backpressure, half-close and resets;
// an end built from plain web streams gets a port over them; splices join any two ends.
import { describe, expect, it } from "vitest";
import { ByteStream, StreamResetError } from "../../index.js";
import type { ByteStreamPort, ByteStreamSink } from "../../model/byte-stream.js";
import { spliceStreams } from "../../wire/splice.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

/** A sink that records what it is told. */
function sinkOf(): {
  sink: ByteStreamSink;
  chunks: number[][];
  state: { ended: boolean; drains: number; reset: StreamResetError | undefined };
} {
  const chunks: number[][] = [];
  const state = { ended: false, drains: 0, reset: undefined as StreamResetError | undefined };
  return {
    chunks,
    state,
    sink: {
      data: (chunk) => void chunks.push([...chunk]),
      end: () => void (state.ended = true),
      drain: () => void state.drains++,
      reset: (error) => void (state.reset = error),
    },
  };
}

async function readAll(stream: ByteStream): Promise<number[]> {
  const out: number[] = [];
  for await (const chunk of stream.readable) out.push(...chunk);
  return out;
}

describe("ByteStream ports", () => {
  it("a raw writer feeds a web reader, in order, and its end ends the reads", async () => {
    const [a, b] = ByteStream.pair();
    const port = a.openPort()!;
    port.start(sinkOf().sink);
    expect(port.write(bytes(1, 2))).toBe(true);
    expect(port.write(bytes(3))).toBe(true);
    port.end();
    expect(await readAll(b)).toEqual([1, 2, 3]);
  });

  it("a web writer feeds a raw reader, which can pause and resume", async () => {
    const [a, b] = ByteStream.pair({ highWaterMark: 4 });
    const port = b.openPort()!;
    const { sink, chunks, state } = sinkOf();
    port.pause();
    port.start(sink);
    const writer = a.writable.getWriter();
    const first = writer.write(bytes(1, 2, 3, 4)); // fills the buffer: waits for the reader
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await Promise.resolve();
    expect(chunks).toEqual([]);
    expect(firstDone).toBe(false);
    port.resume();
    await first;
    await writer.write(bytes(5));
    await writer.close();
    expect(chunks).toEqual([[1, 2, 3, 4], [5]]);
    expect(state.ended).toBe(true);
  });

  it("a raw writer is told to wait at the high-water mark and drained when the reader catches up", async () => {
    const [a, b] = ByteStream.pair({ highWaterMark: 4 });
    const port = a.openPort()!;
    const { sink, state } = sinkOf();
    port.start(sink);
    expect(port.write(bytes(1, 2))).toBe(true);
    expect(port.write(bytes(3, 4))).toBe(false);
    const reader = b.readable.getReader();
    expect((await reader.read()).value).toEqual(bytes(1, 2));
    expect(state.drains).toBe(1);
  });

  it("two raw ends joined back to back keep backpressure without losing bytes", async () => {
    const [a, b] = ByteStream.pair({ highWaterMark: 8 });
    const [c, d] = ByteStream.pair({ highWaterMark: 8 });
    spliceStreams(b, c); // a ⇄ b ≡ c ⇄ d
    const writer = a.writable.getWriter();
    const sent: number[] = [];
    const writing = (async () => {
      for (let i = 0; i < 200; i++) {
        sent.push(i);
        await writer.write(bytes(i));
      }
      await writer.close();
    })();
    const received = await readAll(d);
    await writing;
    expect(received).toEqual(sent);
  });

  it("a reset reaches the raw sink of the other end once, and later writes are dropped quietly", () => {
    const [a, b] = ByteStream.pair();
    const port = b.openPort()!;
    const { sink, state } = sinkOf();
    let resets = 0;
    port.start({ ...sink, reset: (error) => void (resets++, (state.reset = error)) });
    a.reset(new Error("gave up"));
    expect(resets).toBe(1);
    expect(state.reset).toBeInstanceOf(StreamResetError);
    expect(port.write(bytes(1))).toBe(true);
    expect(b.isClosed).toBe(true);
  });

  it("a reader that cancels fails the raw writer at the other end", async () => {
    const [a, b] = ByteStream.pair();
    const port = a.openPort()!;
    const { sink, state } = sinkOf();
    port.start(sink);
    await b.readable.cancel("not interested");
    expect(state.reset).toBeInstanceOf(StreamResetError);
  });

  it("cannot be opened twice or once the web streams are in use", () => {
    const [a, b] = ByteStream.pair();
    expect(a.openPort()).toBeDefined();
    expect(a.canOpenPort).toBe(false);
    expect(a.openPort()).toBeUndefined();
    b.readable.getReader();
    expect(b.openPort()).toBeUndefined();
  });

  it("an end built from plain web streams gets a port over them", async () => {
    const written: number[] = [];
    let source!: ReadableStreamDefaultController<Uint8Array>;
    const custom = new ByteStream(
      new ReadableStream<Uint8Array>({ start: (controller) => void (source = controller) }),
      new WritableStream<Uint8Array>({ write: (chunk) => void written.push(...chunk) }),
      () => undefined,
    );
    const port: ByteStreamPort = custom.openPort()!;
    const { sink, chunks, state } = sinkOf();
    port.start(sink);
    source.enqueue(bytes(7, 8));
    source.close();
    port.write(bytes(9));
    port.end();
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(chunks).toEqual([[7, 8]]);
    expect(state.ended).toBe(true);
    expect(written).toEqual([9]);
  });

  it("a splice of two pairs carries half-close both ways independently", async () => {
    const [a, b] = ByteStream.pair();
    const [c, d] = ByteStream.pair();
    spliceStreams(b, c);
    const aWriter = a.writable.getWriter();
    await aWriter.write(bytes(1));
    await aWriter.close();
    const dReader = d.readable.getReader();
    expect((await dReader.read()).value).toEqual(bytes(1));
    expect((await dReader.read()).done).toBe(true);
    // The other direction still flows after the first one ended.
    const dWriter = d.writable.getWriter();
    await dWriter.write(bytes(2));
    await dWriter.close();
    expect(await readAll(a)).toEqual([2]);
    await Promise.all([a.closed, d.closed]);
  });
});
