import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DecodeError, EncodeError, jsonCodec, Ref } from "../../codecs/index.js";

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
const bytes = (source: string) => new TextEncoder().encode(source);
const roundTrip = (value: unknown) => jsonCodec.decode(jsonCodec.encode(value));

describe("json codec", () => {
  it("writes plain data as plain JSON", () => {
    const value = { a: [1, "two", null, true], b: { c: -0.5 } };
    expect(text(jsonCodec.encode(value))).toBe(JSON.stringify(value));
  });

  it("escapes objects that look like tags, at any depth, and reads them back", () => {
    const value = { $channel: 1, nested: [{ $bytes: "x" }, { $: { $: 2 } }, { $a: 1, $b: 2 }] };
    expect(roundTrip(value)).toStrictEqual(value);
    expect(text(jsonCodec.encode({ $x: 1 }))).toBe('{"$":{"$x":1}}');
    // Objects with several members are never tags, so they are not escaped.
    expect(text(jsonCodec.encode({ $a: 1, $b: 2 }))).toBe('{"$a":1,"$b":2}');
  });

  it("round-trips any JSON-like value (property test)", () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        // JSON itself has no -0; compare through JSON.
        expect(JSON.stringify(roundTrip(value))).toBe(JSON.stringify(value));
      }),
      { seed: 7, numRuns: 300 },
    );
  });

  it("does not modify the value it encodes", () => {
    const value = { reply: new Ref("channel", 1), data: new Uint8Array([1]), n: 10n };
    jsonCodec.encode(value);
    expect(value.reply).toBeInstanceOf(Ref);
    expect(value.data).toBeInstanceOf(Uint8Array);
  });

  it("keeps a __proto__ key as data", () => {
    const decoded = jsonCodec.decode(bytes('{"__proto__":{"$fd":1},"x":{"__proto__":[1]}}')) as Record<
      string,
      unknown
    >;
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.keys(decoded)).toEqual(["__proto__", "x"]);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toStrictEqual(new Ref("fd", 1));
    expect(text(jsonCodec.encode(decoded))).toBe('{"__proto__":{"$fd":1},"x":{"__proto__":[1]}}');
  });

  it("follows JSON.stringify for undefined, functions, toJSON and class instances", () => {
    expect(text(jsonCodec.encode({ a: undefined, f: () => 1, d: new Date(0), list: [undefined] }))).toBe(
      '{"d":"1970-01-01T00:00:00.000Z","list":[null]}',
    );
    class Point {
      constructor(
        readonly x: number,
        readonly y: number,
      ) {}
    }
    expect(roundTrip(new Point(1, 2))).toStrictEqual({ x: 1, y: 2 });
  });

  it("refuses what JSON cannot represent", () => {
    for (const value of [
      NaN,
      Infinity,
      { n: -Infinity },
      new Map(),
      new Set([1]),
      new Uint16Array(2),
      undefined,
    ]) {
      expect(() => jsonCodec.encode(value)).toThrow(EncodeError);
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => jsonCodec.encode(cyclic)).toThrow(EncodeError);
  });

  it("refuses nesting deeper than its limit when decoding", () => {
    expect(() => jsonCodec.decode(bytes("[".repeat(5000) + "]".repeat(5000)))).toThrow(DecodeError);
    expect(roundTrip(JSON.parse("[".repeat(500) + "]".repeat(500)))).toHaveLength(1);
  });
});
