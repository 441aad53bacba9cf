import { describe, expect, it } from "vitest";
import { ByteStream, StreamResetError } from "../../index.js";
import { withUnixHub } from "../helpers/unix-hub.js";
import { countWebStreams } from "../helpers/web-stream-count.js";

/** The web streams made while each test runs. */
const made = countWebStreams();

/** Resolves with the first value `poll` returns that is not undefined; bounded. */
async function eventually<T>(poll: () => T | undefined, what: string): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = poll();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("byte streams held idle through a hub over Unix", () => {
  it("make no web streams on either side until someone reads; then bytes and resets flow", async () => {
    await withUnixHub(async (client, hub) => {
      const held: ByteStream[] = [];
      await hub.register("hold", (stream: ByteStream) => held.push(stream));
      made.readable = made.writable = 0;
      const ends: ByteStream[] = [];
      for (let i = 0; i < 20; i++) {
        const [mine, theirs] = ByteStream.pair();
        ends.push(mine);
        await client.call("hold", theirs);
      }
      expect(held).toHaveLength(20);
      // Idle: neither the client's pairs, their splice onto the wire, nor the hub's ends made any.
      expect(made).toEqual({ readable: 0, writable: 0 });

      // The first one is used: bytes written at the client are read at the hub.
      const writer = ends[0]!.writable.getWriter();
      await writer.write(new TextEncoder().encode("ping"));
      await writer.close();
      let text = "";
      for await (const chunk of held[0]!.readable) text += Buffer.from(chunk).toString();
      expect(text).toBe("ping");

      // The second is reset at the client before anyone at the hub made its web streams.
      ends[1]!.reset(new Error("client gave up"));
      await eventually(() => (held[1]!.isClosed ? true : undefined), "the reset to reach the hub");
      await expect(held[1]!.readable.getReader().read()).rejects.toBeInstanceOf(StreamResetError);
    });
  });
});
