/**
 * A publication is encoded once per codec, however many sessions send it (`EncodedOnce`, used by
 * the hub's subscription forwarding); the bytes are those the codec makes of the event itself.
 */
import { describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/cbor.js";
import { jsonCodec } from "../../codecs/json.js";
import type { Codec } from "../../codecs/reference.js";
import { ByteStream } from "../../model/byte-stream.js";
import { InvalidMessageError } from "../../model/errors.js";
import { EncodedOnce } from "../../wire/encoded-once.js";

/** `codec` with its encodes counted. */
function counted(codec: Codec): { codec: Codec; encodes: () => number } {
  let encodes = 0;
  return {
    codec: {
      ...codec,
      encode: (value, hooks) => {
        encodes++;
        return codec.encode(value, hooks);
      },
    },
    encodes: () => encodes,
  };
}

describe("EncodedOnce", () => {
  it("encodes once per codec for any number of sends, and the bytes decode to the value", () => {
    const event = { from: "alice", data: { text: "hi", n: [1, 2, 3] }, seq: 7, time: 1_765_000_000_000 };
    const cbor = counted(cborCodec);
    const json = counted(jsonCodec);
    const shared = new EncodedOnce(event);
    const first = shared.encodedWith(cbor.codec);
    for (let session = 0; session < 100; session++) {
      expect(shared.encodedWith(cbor.codec).bytes).toBe(first.bytes);
      shared.encodedWith(json.codec);
    }
    expect(cbor.encodes()).toBe(1);
    expect(json.encodes()).toBe(1);
    expect(cborCodec.decode(first.bytes.subarray(first.start, first.end))).toEqual(event);
    const asJson = shared.encodedWith(json.codec);
    expect(jsonCodec.decode(asJson.bytes.subarray(asJson.start, asJson.end))).toEqual(event);
  });

  it("keeps its bytes while the codec encodes other messages in place (its buffer is reused)", () => {
    const event = { from: "bob", data: new Uint8Array(64).fill(7), seq: 1, time: 5 };
    const slab = new Uint8Array(1024);
    // cbor-x's buffer, rewound by an in-place encode: the next `encode` writes at its start.
    cborCodec.encodeTransient!(new Map([[0, "x"]]), undefined, slab, 0);
    const shared = new EncodedOnce(event);
    const region = shared.encodedWith(cborCodec);
    // A Map is outside the fast subset: cbor-x encodes it, reusing its own buffer each time.
    for (let i = 0; i < 1000; i++)
      cborCodec.encodeTransient!(new Map([[i, "x".repeat(i % 50)]]), undefined, slab, 0);
    expect(cborCodec.decode(region.bytes.subarray(region.start, region.end))).toEqual(event);
  });

  it("refuses data with a byte stream: its id would be one session's", () => {
    const [stream, other] = ByteStream.pair();
    expect(() => new EncodedOnce({ stream }).encodedWith(cborCodec)).toThrow(InvalidMessageError);
    stream.reset();
    other.reset();
  });
});
