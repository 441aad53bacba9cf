// The CBOR codec's per-message path (encodeTransient, decodeRegion: a fast subset with cbor-x
// behind it) must be indistinguishable from plain cbor-x (encode, decode): the same bytes out,
// the same values in, the same failures, and the same reference hooks called.
import { inspect, isDeepStrictEqual } from "node:util";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/cbor.js";
import { Ref, type RefHooks } from "../../codecs/reference.js";

const transient = (value: unknown, hooks?: RefHooks): Uint8Array => {
  const region = cborCodec.encodeTransient!(value, hooks);
  return region.bytes.slice(region.start, region.end);
};

/** Decodes `bytes` placed in the middle of a larger buffer, as a session does with a frame. */
const inRegion = (bytes: Uint8Array, hooks?: RefHooks): unknown => {
  const buffer = new Uint8Array(bytes.length + 7).fill(0xff);
  buffer.set(bytes, 3);
  return cborCodec.decodeRegion!(buffer, 3, 3 + bytes.length, hooks);
};

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");

/** Deep equality by prototype and Object.is (toStrictEqual trips over a "constructor" key). */
const expectSame = (actual: unknown, expected: unknown): void => {
  if (!isDeepStrictEqual(actual, expected)) {
    expect.fail(`${inspect(actual, { depth: 9 })} differs from ${inspect(expected, { depth: 9 })}`);
  }
};

const numbers = fc.oneof(
  fc.integer(),
  fc.integer({ min: -0x1_0000_0000, max: 0x1_0000_0000 }),
  fc.double(),
  fc.constantFrom(
    0,
    -0,
    NaN,
    Infinity,
    -Infinity,
    2 ** 32,
    -(2 ** 32) - 1,
    2 ** 53,
    23,
    24,
    -24,
    -25,
    255,
    256,
  ),
  fc.maxSafeInteger(),
);
const strings = fc.oneof(fc.string(), fc.string({ unit: "binary" }), fc.string({ maxLength: 300 }));
const keys = fc.oneof(
  fc.string({ maxLength: 10 }),
  fc.constantFrom("__proto__", "constructor", "hasOwnProperty", "0", "op"),
);

const { value: values } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    numbers,
    strings,
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.uint8Array({ maxLength: 300 }),
    fc.bigInt(),
    fc.date({ noInvalidDate: true }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(keys, tie("value"), { maxKeys: 5 }),
    fc.array(fc.tuple(strings, tie("value")), { maxLength: 3 }).map((entries) => new Map(entries)),
  ),
}));

describe("cbor per-message path", () => {
  it("encodes exactly the bytes cbor-x encodes", () => {
    fc.assert(
      fc.property(values, (value) => {
        expect(hex(transient(value))).toBe(hex(cborCodec.encode(value)));
      }),
      { numRuns: 3000 },
    );
  });

  it("encodes the same bytes in place, in a buffer it fits in or one it outgrows", () => {
    fc.assert(
      fc.property(values, fc.nat(300), fc.nat(600), (value, offset, room) => {
        const target = new Uint8Array(offset + room).fill(0xee);
        const region = cborCodec.encodeTransient!(value, undefined, target, offset);
        const bytes = region.bytes.slice(region.start, region.end);
        expect(hex(bytes)).toBe(hex(cborCodec.encode(value)));
        if (region.bytes === target) expect(region.start).toBe(offset);
        // Nothing before `offset` is touched.
        expect(target.subarray(0, offset).every((byte) => byte === 0xee)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it("decodes what cbor-x decodes, to the same values", () => {
    fc.assert(
      fc.property(values, (value) => {
        const bytes = cborCodec.encode(value);
        expectSame(inRegion(bytes), cborCodec.decode(bytes));
      }),
      { numRuns: 3000 },
    );
  });

  it("fails where cbor-x fails, and agrees where it succeeds, on arbitrary bytes", () => {
    const outcome = (decode: () => unknown): unknown => {
      try {
        return { value: decode() };
      } catch (error) {
        return { error: (error as Error).constructor.name };
      }
    };
    const mutated = fc
      .tuple(values, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }))
      .map(([value, edits]) => {
        const bytes = new Uint8Array(cborCodec.encode(value));
        for (const [at, byte] of edits) if (bytes.length > 0) bytes[at % bytes.length] = byte;
        return bytes;
      });
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 40 }), mutated), (bytes) => {
        // Compared as printed: decoded garbage can hold an invalid Date, which no deep
        // equality considers equal to itself.
        const show = (value: unknown): string => inspect(value, { depth: 20, showHidden: true });
        expect(show(outcome(() => inRegion(bytes)))).toBe(show(outcome(() => cborCodec.decode(bytes))));
      }),
      { numRuns: 3000 },
    );
  });

  it("passes references through the hooks in both directions", () => {
    const ref = new Ref("channel", 5);
    const message = { reply: ref, list: [new Ref("fd", 0), "x"] };
    expect(hex(transient(message))).toBe(hex(cborCodec.encode(message)));
    const seen: string[] = [];
    const hooks: RefHooks = {
      toRef: (value) => value as unknown as Ref,
      fromRef: (found) => {
        seen.push(String(found));
        return `resolved ${String(found)}`;
      },
    };
    expect(inRegion(cborCodec.encode(message), hooks)).toStrictEqual({
      reply: "resolved channel#5",
      list: ["resolved fd#0", "x"],
    });
    expect(seen).toStrictEqual(["channel#5", "fd#0"]);
  });

  it("returns byte strings that do not share the input's memory", () => {
    const bytes = cborCodec.encode({ data: new Uint8Array([1, 2, 3]) });
    const buffer = new Uint8Array(bytes);
    const decoded = cborCodec.decodeRegion!(buffer, 0, buffer.length) as { data: Uint8Array };
    buffer.fill(0);
    expect([...decoded.data]).toStrictEqual([1, 2, 3]);
    expect(decoded.data.constructor).toBe(Uint8Array);
  });

  it("keeps an encoded region valid until the next encode, also for large messages", () => {
    const large = { text: "x".repeat(200_000), bytes: new Uint8Array(100_000).fill(7) };
    expect(hex(transient(large))).toBe(hex(cborCodec.encode(large)));
    expect(hex(transient({ a: 1 }))).toBe(hex(cborCodec.encode({ a: 1 })));
  });
});
