import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { codecByName, EncodeError, kvCodec, Ref } from "../../codecs/index.js";
import { decodeKv } from "../../kv/index.js";
import { normalize } from "./corpus.js";

describe("kv codec", () => {
  it("writes string messages as plain kv", () => {
    const bytes = kvCodec.encode({ hello: "world", list: ["a", "b"] });
    expect(Buffer.from(bytes).toString()).toBe("000;5:hello,8:5:world,,4:list,8:1:a,1:b,,");
    expect(decodeKv(bytes)).toStrictEqual({ hello: ["world"], list: ["a", "b"] });
  });

  it("round-trips text, binary and references, including look-alikes (property test)", () => {
    const value = fc.oneof(
      fc.string({ unit: "binary" }),
      fc.string({ unit: "binary" }).map((text) => `\0${text}`),
      fc.uint8Array({ maxLength: 16 }),
      fc
        .tuple(
          fc.constantFrom("channel" as const, "stream" as const, "fd" as const),
          fc.nat({ max: 0xffffffff }),
        )
        .map(([kind, id]) => new Ref(kind, id)),
    );
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ unit: "binary" }), fc.array(value, { maxLength: 4 }), {
          noNullPrototype: true,
        }),
        (message) => {
          expect(normalize(kvCodec.decode(kvCodec.encode(message)))).toStrictEqual(normalize(message));
        },
      ),
      { seed: 11, numRuns: 300 },
    );
  });

  it("refuses what kv cannot carry, naming the key", () => {
    for (const value of [
      { n: 1 },
      { nested: { a: "b" } },
      { list: [["x"]] },
      { big: 1n },
      { nil: null },
      ["a"],
      "text",
    ]) {
      expect(() => kvCodec.encode(value)).toThrow(EncodeError);
    }
    expect(() => kvCodec.encode({ count: 3 })).toThrow(/"count" is a number/);
    expect(() => kvCodec.encode({ text: "\ud800" })).toThrow(EncodeError);
  });

  it("is found by name", () => {
    expect(codecByName("kv")).toBe(kvCodec);
    expect(codecByName("protobuf")).toBeUndefined();
    expect(codecByName("cbor")?.contentType).toBe("application/cbor");
  });
});
