// The test vectors of PROTOCOL.md, checked both ways: the implementation's encoder produces
// exactly the documented bytes, and its decoder reads them back into the documented fields. The
// exchanges are then played against a live session: documented bytes in, documented bytes out.
import { describe, expect, it } from "vitest";
import { cborCodec, jsonCodec } from "../../codecs/index.js";
import { WireConnection, type ByteTransport, type TransportHandlers } from "../../wire/connection.js";
import { FrameDecoder, FrameType, splitRequestId } from "../../wire/frame.js";
import { decodeHello } from "../../wire/hello.js";
import { within } from "../compliance/suite.js";
import {
  blocksOf,
  bytesOf,
  encodeVector,
  frameVectors,
  parseFrameLine,
  plainRefHooks,
  withMarkers,
} from "./protocol-doc.js";

const vectors = blocksOf("vector");
const byName = frameVectors();

describe("PROTOCOL.md test vectors", () => {
  it("documents vectors", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(20);
    expect(byName.size).toBe(vectors.length); // names are unique: exchanges refer to them
  });

  for (const vector of vectors) {
    it(vector.get("name")!, () => {
      const { type, id, fds, requestId } = parseFrameLine(vector.get("frame")!);
      const bytes = bytesOf(vector);
      expect(Buffer.from(encodeVector(vector)).toString("hex")).toBe(bytes.toString("hex"));

      // Fed one byte at a time, the decoder still finds exactly this frame.
      const decoder = new FrameDecoder(1 << 24);
      const frames = [...bytes].flatMap((byte) => decoder.push(new Uint8Array([byte])));
      expect(frames).toHaveLength(1);
      const frame = frames[0]!;
      expect({ type: frame.type, id: frame.id, fdCount: frame.fdCount }).toEqual({ type, id, fdCount: fds });
      // A HELLO's JSON is read back whole: every field the vector shows, optional ones too.
      if (type === FrameType.HELLO)
        expect(decodeHello(frame.payload)).toEqual(JSON.parse(vector.get("json")!));
      if (vector.has("body")) {
        const { requestId: decodedId, body: decodedBody } =
          requestId === undefined ? { requestId: undefined, body: frame.payload } : splitRequestId(frame);
        expect(decodedId).toBe(requestId);
        expect(cborCodec.decode(decodedBody, plainRefHooks)).toEqual(
          withMarkers(JSON.parse(vector.get("body")!)),
        );
      }
    });
  }
});

/** A byte transport whose other end is the test: it records what the session writes. */
function scriptedPeer(): { transport: ByteTransport; sent: Buffer[]; feed(bytes: Uint8Array): void } {
  let handlers: TransportHandlers | undefined;
  const sent: Buffer[] = [];
  return {
    transport: {
      supportsFds: false,
      write: (chunks) => void sent.push(...chunks.map((chunk) => Buffer.from(chunk))),
      start: (given) => void (handlers = given),
      close: () => handlers?.closed(),
    },
    sent,
    feed: (bytes) => handlers!.data(bytes, []),
  };
}

/** Resolves once `condition` holds (checked every turn of the event loop), or fails after `ms`. */
async function until(condition: () => boolean, ms: number, what: string): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((resolve) => setImmediate(resolve));
    })(),
    ms,
    what,
  );
}

describe("PROTOCOL.md exchanges, against a live session", () => {
  const exchanges = blocksOf("exchange");

  it("documents exchanges", () => {
    expect(exchanges.length).toBeGreaterThanOrEqual(3);
  });

  for (const exchange of exchanges) {
    it(exchange.get("name")!, async () => {
      const role = exchange.get("implementation") as "client" | "server";
      const vectorBytes = (name: string): Buffer => {
        const vector = byName.get(name);
        if (vector === undefined) throw new Error(`no vector named "${name}"`);
        return bytesOf(vector);
      };
      const peer = scriptedPeer();
      const connection = new WireConnection(peer.transport, { role, codecs: [cborCodec, jsonCodec] });
      try {
        peer.feed(vectorBytes("hello"));
        await within(connection.ready, 2000, "the handshake");
        // Its HELLO went out first, at once; what follows is the answer to what we send.
        await until(() => peer.sent.length > 0, 2000, "the implementation's HELLO");
        const hello = new FrameDecoder(1 << 24).push(Buffer.concat(peer.sent));
        expect(hello.map((frame) => frame.type)).toEqual([FrameType.HELLO]);
        peer.sent.length = 0;

        const sends = exchange
          .get("send")!
          .split(";")
          .map((name) => name.trim());
        for (const name of sends) peer.feed(vectorBytes(name));
        const expected = Buffer.concat(
          exchange
            .get("expect")!
            .split(";")
            .map((name) => vectorBytes(name.trim())),
        );
        const received = (): Buffer => Buffer.concat(peer.sent);
        await until(() => received().length >= expected.length, 2000, "the documented answer");
        // A few more turns: nothing else may follow.
        for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
        expect(received().toString("hex")).toBe(expected.toString("hex"));
        expect(connection.isClosed).toBe(false);
      } finally {
        connection.close("test done");
      }
    });
  }
});
