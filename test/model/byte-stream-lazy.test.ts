import { describe, expect, it } from "vitest";
import { ByteStream, StreamResetError } from "../../index.js";
import { countWebStreams } from "../helpers/web-stream-count.js";

/** The web streams made while each test runs. */
const made = countWebStreams();

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of stream) text += Buffer.from(chunk).toString();
  return text;
}

describe("byte stream ends make their web streams on first use", () => {
  it("an idle pair holds no web streams; each is made when asked for", async () => {
    const [a, b] = ByteStream.pair();
    expect(made).toEqual({ readable: 0, writable: 0 });
    const writer = b.writable.getWriter();
    expect(made).toEqual({ readable: 0, writable: 1 });
    await writer.write(new TextEncoder().encode("hello"));
    const closing = writer.close();
    expect(await readAll(a.readable)).toBe("hello");
    await closing;
    expect(made).toEqual({ readable: 1, writable: 1 });
    a.reset();
  });

  it("a web stream made after a reset is already failed with it", async () => {
    const [a, b] = ByteStream.pair();
    a.reset(new Error("gave up"));
    await expect(a.readable.getReader().read()).rejects.toBeInstanceOf(StreamResetError);
    await expect(b.writable.getWriter().write(new Uint8Array([1]))).rejects.toBeInstanceOf(StreamResetError);
    expect(a.isClosed && b.isClosed).toBe(true);
  });

  it("a raw port needs none, and the end's web streams come locked if made afterwards", () => {
    const [a, b] = ByteStream.pair();
    const port = a.openPort();
    expect(port).toBeDefined();
    expect(a.canOpenPort).toBe(false);
    expect(a.openPort()).toBeUndefined();
    expect(made).toEqual({ readable: 0, writable: 0 });
    expect(a.readable.locked).toBe(true);
    expect(a.writable.locked).toBe(true);
    // The other end is untouched and may still open its own port.
    expect(b.canOpenPort).toBe(true);
    b.reset();
  });
});
