// A hub that only routes a call keeps its data as the CBOR bytes it came in
// (`Codec.decodeKeeping`, issue 19 "the hub hop"). What it keeps must decode, at the receiver,
// to exactly what the hub's own decode would have given; what it cannot vouch for (a reference,
// any tag, text it would have to validate, truncated input) it decodes as before.
import { isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cborCodec, CborKept } from "../../codecs/cbor.js";
import { Ref, type RefHooks } from "../../codecs/reference.js";

const hooks: RefHooks = { toRef: (value) => value as unknown as Ref, fromRef: (ref) => ref };
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** `decodeKeeping` of `bytes` placed in the middle of a larger buffer, as a session does. */
function keeping(bytes: Uint8Array, field: string | undefined): unknown {
  const buffer = new Uint8Array(bytes.length + 9).fill(0xff);
  buffer.set(bytes, 4);
  const fields = field === undefined ? undefined : [field];
  const value = cborCodec.decodeKeeping!(buffer, 4, 4 + bytes.length, fields, hooks);
  buffer.fill(0); // what was kept is a copy: the receive buffer may be reused
  return value;
}

const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.integer(),
    fc.double(),
    fc.string(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 100 }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie("value"), { maxKeys: 4 }),
  ),
})).value;

describe("CBOR kept as bytes for routing (decodeKeeping)", () => {
  it("keeps a field's plain value as its bytes, and they decode to what the hub would have decoded", () => {
    fc.assert(
      fc.property(plain, (data) => {
        const bytes = cborCodec.encode({ op: "call", name: "svc.echo", data });
        const message = keeping(bytes, "data") as { op: string; name: string; data: unknown };
        expect(message.op).toBe("call");
        expect(message.name).toBe("svc.echo");
        const expected = (cborCodec.decode(bytes) as { data: unknown }).data;
        if (message.data instanceof CborKept) {
          expect(isDeepStrictEqual(message.data.decoded(), expected)).toBe(true);
          // Written back byte for byte, where it stands in a message.
          const region = cborCodec.encodeTransient!({ data: message.data });
          expect(hex(region.bytes.slice(region.start, region.end))).toBe(
            hex(cborCodec.encode({ data: expected })),
          );
        } else {
          // Not kept (non-ASCII text, for one): decoded as before.
          expect(isDeepStrictEqual(message.data, expected)).toBe(true);
        }
      }),
      { numRuns: 1500 },
    );
  });

  it("keeps the caller's own encoding, not a re-encoding", () => {
    // {x: 5} with a one-byte map head and 5 written in two bytes: cbor-x would write b9 0001 61 78 05.
    const data = Uint8Array.from([0xa1, 0x61, 0x78, 0x18, 0x05]);
    const head = cborCodec.encode({ op: "call", data: 0 });
    const body = Uint8Array.from([...head.subarray(0, head.length - 1), ...data]);
    const kept = (keeping(body, "data") as { data: CborKept }).data;
    expect(kept).toBeInstanceOf(CborKept);
    expect(hex(kept.bytes)).toBe(hex(data));
    expect(kept.decoded()).toEqual({ x: 5 });
    expect(JSON.stringify({ data: kept })).toBe('{"data":{"x":5}}');
    const whole = keeping(data, undefined);
    expect(whole).toBeInstanceOf(CborKept);
    expect(hex((whole as CborKept).bytes)).toBe(hex(data));
  });

  it("decodes what it cannot vouch for as before: references, tags, non-ASCII text", () => {
    for (const data of [
      new Ref("channel", 3),
      { deep: [new Ref("fd", 0)] },
      new Date(0),
      "grüße",
      2n ** 70n,
    ]) {
      const bytes = cborCodec.encode({ op: "call", data }, hooks);
      const message = keeping(bytes, "data") as { data: unknown };
      expect(message.data).not.toBeInstanceOf(CborKept);
      expect(message.data).toEqual((cborCodec.decode(bytes, hooks) as { data: unknown }).data);
      expect(keeping(cborCodec.encode(data, hooks), undefined)).not.toBeInstanceOf(CborKept);
    }
  });

  it("keeps nothing of truncated or trailing input, and fails on it as decodeRegion does", () => {
    const bytes = cborCodec.encode({ op: "call", data: { a: [1, 2, "three"] } });
    for (let cut = 1; cut < bytes.length; cut++) {
      expect(() => keeping(bytes.subarray(0, cut), "data")).toThrow();
      expect(() => keeping(bytes.subarray(0, cut), undefined)).toThrow();
    }
  });
});
