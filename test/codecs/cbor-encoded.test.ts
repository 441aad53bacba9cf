// CborEncoded: a value encoded once and copied as bytes by the CBOR fast path wherever it sits in
// a message (the hub's `service` and `caller` of routed calls, issue 19). A peer must not be able
// to tell: the bytes are exactly those of encoding the value itself, in place.
import { describe, expect, it } from "vitest";
import { cborCodec, EncodeError, jsonCodec } from "../../codecs/index.js";
import { CborEncoded } from "../../codecs/cbor-encoded.js";
import { Channel } from "../../model/channel.js";

const identity = Object.freeze({
  id: "unix:root",
  via: "unix",
  uid: 0,
  gid: 0,
  pid: 4242,
  user: "root",
  gids: Object.freeze([0, 27]),
  groups: Object.freeze(["root", "sudo"]),
});
const values: [string, unknown][] = [
  ["a ServiceInfo", Object.freeze({ name: "svc.echo", id: "i7", labels: { lang: "ts" }, sessionId: "s3" })],
  ["a CallerInfo with a Unix identity", Object.freeze({ sessionId: "s1", identity })],
  ["an anonymous CallerInfo", Object.freeze({ sessionId: "s2", identity: undefined })],
  // Not the fast subset: cbor-x writes these, and its bytes are copied all the same.
  [
    "a value with a Map, a Date and non-ASCII text",
    { map: new Map([[1, "é"]]), at: new Date(0), n: 2n ** 70n },
  ],
  ["a number", 1.5],
];

/** The bytes a session's CBOR encoder writes for `value` (the fast path, as sessions use it). */
function encodeInPlace(value: unknown): Uint8Array {
  const target = new Uint8Array(4096);
  const region = cborCodec.encodeTransient!(value, undefined, target, 100);
  return region.bytes.slice(region.start, region.end);
}

describe("CborEncoded", () => {
  it.each(values)("writes %s byte for byte as the value itself, wherever it sits", (_, value) => {
    const encoded = new CborEncoded(value);
    const message = (inner: unknown): unknown => ({
      data: new Uint8Array([1, 2, 3]),
      inner,
      list: [inner, 7],
      deadline: 1.25,
    });
    const expected = encodeInPlace(message(value));
    expect(encodeInPlace(message(encoded))).toEqual(expected);
    expect(encodeInPlace(encoded)).toEqual(encodeInPlace(value));
    // And cbor-x, which the whole message goes to when it is not the fast subset, agrees.
    expect(encoded.bytes).toEqual(cborCodec.encode(value));
    expect(cborCodec.decode(expected)).toEqual(cborCodec.decode(encodeInPlace(message(encoded))));
  });

  it("keeps the bytes of the value as it was when made", () => {
    const value = { sessionId: "s1", count: 1 };
    const encoded = new CborEncoded(value);
    value.count = 2;
    expect(cborCodec.decode(encodeInPlace({ caller: encoded }))).toEqual({
      caller: { sessionId: "s1", count: 1 },
    });
  });

  it("is written as its value by the JSON codec (toJSON)", () => {
    const caller = values[1]![1];
    const json = new TextDecoder().decode(jsonCodec.encode({ caller: new CborEncoded(caller) }));
    expect(JSON.parse(json)).toEqual({ caller: JSON.parse(JSON.stringify(caller)) });
  });

  it("refuses a value carrying a channel: references are per session", () => {
    const [end, other] = Channel.pair();
    try {
      expect(() => new CborEncoded({ reply: end })).toThrow(EncodeError);
    } finally {
      end.close();
      other.close();
    }
  });
});
