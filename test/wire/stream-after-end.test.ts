// A connection lost after the peer ended its direction of a byte stream: what the peer sent is
// complete, so a reader here that had not taken it yet still reads every byte and the end; only
// this side's direction fails. (A `pub --stream` that wrote its last byte and exited lost the
// tail of its broadcast to slow subscribers before.) Lost before the peer's END, both fail.
import { describe, expect, it } from "vitest";
import { StreamResetError } from "../../model/errors.js";
import { StreamProxy, type StreamWire } from "../../wire/stream-proxy.js";

/** The proxy's connection side, recording what it would send. */
function wire(): StreamWire & { sent: string[] } {
  const sent: string[] = [];
  return {
    sent,
    maxData: 16 * 1024,
    sendData: (_id, chunk) => sent.push(`data ${chunk.byteLength}`),
    sendWindow: (_id, increment) => sent.push(`window ${increment}`),
    sendEnd: () => sent.push("end"),
    sendReset: () => sent.push("reset"),
    forget: () => sent.push("forget"),
  };
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<string> {
  let text = "";
  for await (const chunk of readable) text += Buffer.from(chunk).toString();
  return text;
}

describe("a byte stream whose connection is lost", () => {
  it("after the peer's END: the reader still gets every byte and the end; writes fail", async () => {
    const proxy = new StreamProxy(1, wire(), 64 * 1024, 64 * 1024);
    proxy.onData(Buffer.from("all of "));
    proxy.onData(Buffer.from("it"));
    proxy.onEnd();
    proxy.connectionLost(new Error("socket closed"));
    expect(await readAll(proxy.stream.readable)).toBe("all of it");
    const writer = proxy.stream.writable.getWriter();
    await expect(writer.write(Buffer.from("x"))).rejects.toBeInstanceOf(StreamResetError);
  });

  it("after the peer's END, through a port: the sink gets the bytes and the end, not a reset", () => {
    const proxy = new StreamProxy(1, wire(), 64 * 1024, 64 * 1024);
    proxy.onData(Buffer.from("abc"));
    proxy.onEnd();
    proxy.connectionLost(new Error("socket closed"));
    const seen: string[] = [];
    proxy.start({
      data: (chunk) => seen.push(Buffer.from(chunk).toString()),
      end: () => seen.push("end"),
      drain: () => undefined,
      reset: (error) => seen.push(`reset ${error.message}`),
    });
    expect(seen).toEqual(["abc", "end"]);
  });

  it("before the peer's END: both directions fail", async () => {
    const proxy = new StreamProxy(1, wire(), 64 * 1024, 64 * 1024);
    proxy.onData(Buffer.from("half"));
    proxy.connectionLost(new Error("socket closed"));
    await expect(readAll(proxy.stream.readable)).rejects.toThrow(/the connection was lost/);
  });
});
