// Stopping to read a peer that does not read must not deadlock two sides that both stream to
// each other at full speed: each side's bytes for the other may pile up past the transport's
// mark at once, and if both stopped reading, neither would ever drain (the session would end
// ESLOW_CONSUMER). Bytes under the peer's credit (DATA, EVENT) never pause reading.
import { describe, expect, it } from "vitest";
import { ByteStream } from "../../model/byte-stream.js";
import { within } from "../compliance/suite.js";
import { sessionPair } from "./pair.js";

const STREAMS = 4;
const BYTES = 8 * 1024 * 1024;

/** Writes BYTES into `stream` and reads BYTES from it; resolves with the count read. */
async function pump(stream: ByteStream): Promise<number> {
  const writer = stream.writable.getWriter();
  const chunk = new Uint8Array(256 * 1024).fill(1);
  const writing = (async () => {
    for (let sent = 0; sent < BYTES; sent += chunk.byteLength) await writer.write(chunk);
    await writer.close();
  })();
  let read = 0;
  for await (const piece of stream.readable) read += piece.byteLength;
  await writing;
  return read;
}

describe("two sessions streaming to each other", () => {
  it("move every byte both ways without stopping each other", async () => {
    const pair = await sessionPair({ slowConsumerTimeout: 2000 }, { slowConsumerTimeout: 2000 });
    try {
      const local: ByteStream[] = [];
      const carried: ByteStream[] = [];
      for (let i = 0; i < STREAMS; i++) {
        const [mine, theirs] = ByteStream.pair();
        local.push(mine);
        carried.push(theirs);
      }
      await pair.client.root.send({ streams: carried });
      const message = (await within(pair.server.root[Symbol.asyncIterator]().next(), 3000, "the streams"))
        .value!;
      const remote = (message.data as { streams: ByteStream[] }).streams;
      const counts = await within(Promise.all([...local, ...remote].map(pump)), 60_000, "both directions");
      expect(counts).toEqual(Array.from({ length: 2 * STREAMS }, () => BYTES));
      expect(pair.client.isClosed || pair.server.isClosed).toBe(false);
    } finally {
      pair.close();
    }
  }, 90_000);
});
