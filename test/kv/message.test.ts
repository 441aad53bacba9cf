import { describe, expect, it } from "vitest";
import { KvError, KvMessage } from "../../kv/index.js";

describe("KvMessage", () => {
  it("gets, sets, adds and deletes", () => {
    const message = new KvMessage().set("method", "GET").set("accept", ["text/plain"]);
    message.add("accept", "application/json").add("new", "a", "b");
    expect(message.get("accept")).toEqual(["text/plain", "application/json"]);
    expect(message.getStrings("new")).toEqual(["a", "b"]);
    expect(message.first("method")).toBe("GET");
    expect(message.has("method")).toBe(true);
    expect(message.delete("method")).toBe(true);
    expect(message.delete("method")).toBe(false);
    expect(message.get("method")).toBeUndefined();
    expect(message.first("missing")).toBeUndefined();
    expect(message.size).toBe(2);
    message.set("empty", []);
    expect(message.has("empty")).toBe(true);
    expect(message.first("empty")).toBeUndefined();
  });

  it("treats a text key and its UTF-8 bytes as the same key", () => {
    const message = new KvMessage().set("ключ", "v");
    expect(message.get(new TextEncoder().encode("ключ"))).toEqual(["v"]);
    message.add(new TextEncoder().encode("ключ"), new Uint8Array([1]));
    expect(message.size).toBe(1);
    expect(message.getBytes("ключ")).toStrictEqual([new TextEncoder().encode("v"), new Uint8Array([1])]);
  });

  it("converts from and to plain objects", () => {
    const message = KvMessage.fromObject({ b: "1", a: ["2", "3"], c: [] });
    expect(message.toObject()).toStrictEqual({ a: ["2", "3"], b: ["1"], c: [] });
    expect(Object.keys(message.toObject())).toEqual(["a", "b", "c"]);
    expect(message.keys()).toEqual(["a", "b", "c"]);
    expect(message.entries()).toEqual([
      ["a", ["2", "3"]],
      ["b", ["1"]],
      ["c", []],
    ]);
  });

  it("reports values that are not text when text is asked for", () => {
    const message = new KvMessage().set("bin", new Uint8Array([0xff])).set(new Uint8Array([0xfe]), "x");
    expect(() => message.getStrings("bin")).toThrow(KvError);
    expect(() => message.toObject()).toThrow(/key is not valid UTF-8/);
    expect(() => message.set("k", 5 as never)).toThrow(KvError);
  });

  it("compares byte-wise, whatever form the values were given in", () => {
    const a = new KvMessage().set("k", ["x", new Uint8Array([0x79])]);
    const b = new KvMessage().set("k", [new Uint8Array([0x78]), "y"]);
    expect(a.equals(b)).toBe(true);
    expect(a.encode()).toStrictEqual(b.encode());
    expect(a.equals(new KvMessage().set("k", ["x"]))).toBe(false);
    expect(a.equals(new KvMessage().set("j", ["x", "y"]))).toBe(false);
  });

  it("clones independently", () => {
    const a = new KvMessage().set("k", ["x"]);
    const b = a.clone();
    b.add("k", "y");
    expect(a.get("k")).toEqual(["x"]);
    expect(a.get("k")).not.toBe(a.get("k"));
  });
});
