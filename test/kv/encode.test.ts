import { describe, expect, it } from "vitest";
import { decodeKv, encodeKv, KvError, KvMessage } from "../../kv/index.js";

const wire = (bytes: Uint8Array) =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1");

describe("kv encoding", () => {
  it("sorts keys by their bytes, so equal messages give equal bytes", () => {
    expect(wire(encodeKv({ b: "2", a: "1", ab: "3", B: "0" }))).toBe(
      "000;1:B,4:1:0,,1:a,4:1:1,,2:ab,4:1:3,,1:b,4:1:2,,",
    );
    expect(wire(encodeKv({ x: "1", y: "2" }))).toBe(wire(encodeKv({ y: "2", x: "1" })));
  });

  it("orders non-ASCII keys by UTF-8 bytes (code points), not UTF-16 units", () => {
    // UTF-16 puts U+E000 after U+1F600 (a surrogate pair); UTF-8 puts it before.
    const keys = Object.keys(decodeKv(encodeKv({ "\u{1F600}": "", "\uE000": "", é: "", z: "" })));
    expect(keys).toEqual(["z", "é", "\uE000", "\u{1F600}"]);
  });

  it("takes a single value as a one-element list", () => {
    expect(wire(encodeKv({ a: "x" }))).toBe(wire(encodeKv({ a: ["x"] })));
    expect(wire(encodeKv({ a: new Uint8Array([0x78]) }))).toBe("000;1:a,4:1:x,,");
  });

  it("writes binary values and lengths of every digit count", () => {
    for (const length of [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 9999, 10000, 100000]) {
      const value = new Uint8Array(length).fill(0xab);
      const bytes = encodeKv({ k: [value] });
      const prefix = `000;1:k,${length + String(length).length + 2}:${length}:`;
      expect(wire(bytes.subarray(0, prefix.length))).toBe(prefix);
      expect(bytes.length).toBe(prefix.length + length + 2);
      expect(KvMessage.decode(bytes).getBytes("k")).toStrictEqual([value]);
    }
  });

  it("writes non-ASCII and long text (group lengths that the ASCII estimate gets wrong)", () => {
    for (const text of [
      "é".repeat(5),
      "😀".repeat(3),
      "x".repeat(65),
      "é".repeat(200),
      "a".repeat(8) + "☃",
      "日本".repeat(2000),
    ]) {
      const bytes = encodeKv({ key: [text, text] });
      expect(decodeKv(bytes)).toStrictEqual({ key: [text, text] });
      const size = Buffer.byteLength(text);
      const inner = `${size}:${text},`;
      expect(Buffer.from(bytes).toString()).toBe(
        `000;3:key,${2 * Buffer.byteLength(inner)}:${inner}${inner},`,
      );
    }
  });

  it("hands out results that later encodings do not overwrite", () => {
    const results = Array.from({ length: 2000 }, (_, i) =>
      encodeKv({ i: String(i), pad: "p".repeat(i % 300) }),
    );
    results.forEach((bytes, i) => expect(decodeKv(bytes).i).toEqual([String(i)]));
    const big = encodeKv({ big: "b".repeat(100_000) });
    const after = encodeKv({ small: "s" });
    expect(decodeKv(big).big?.[0]).toHaveLength(100_000);
    expect(decodeKv(after)).toStrictEqual({ small: ["s"] });
  });

  it("refuses values that are not strings or byte arrays", () => {
    for (const value of [1, null, undefined, {}, [1], [["a"]], true]) {
      expect(() => encodeKv({ key: value } as never)).toThrow(KvError);
    }
    expect(() => encodeKv({ key: 1 } as never)).toThrow(
      /value of key "key" must be a string or Uint8Array, got number/,
    );
  });

  it("refuses text with an unpaired surrogate (it has no UTF-8 form)", () => {
    expect(() => encodeKv({ key: "a\ud800" })).toThrow(KvError);
    expect(() => encodeKv({ ["k\udc00"]: "v" })).toThrow(KvError);
    expect(() => new KvMessage().set("k\ud800", "v")).toThrow(KvError);
    // The failure leaves the encoder usable.
    expect(wire(encodeKv({ a: "b" }))).toBe("000;1:a,4:1:b,,");
  });

  it("encodes a KvMessage like the equal plain object", () => {
    const object = { b: ["2", "3"], a: [] };
    expect(wire(encodeKv(KvMessage.fromObject(object)))).toBe(wire(encodeKv(object)));
  });
});
