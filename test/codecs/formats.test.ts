// Every `vector` line of codecs/FORMATS.md is checked here: the named value encodes to exactly
// the documented bytes and decodes back. A vector in the document without a value here (or the
// other way round) fails, so the document cannot drift from the code.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { cborCodec, jsonCodec, kvCodec, msgpackCodec, protobufCodec, Ref } from "../../codecs/index.js";
import type { Codec } from "../../codecs/index.js";
import {
  decodeKv,
  decodeKvChange,
  encodeKv,
  encodeKvChange,
  encodeKvRecord,
  KvRecordDecoder,
} from "../../kv/index.js";
import { normalize } from "./corpus.js";

const document = readFileSync(new URL("../../codecs/FORMATS.md", import.meta.url), "utf8");
const vectors = new Map<string, string>();
for (const match of document.matchAll(/^vector (\S+ \S+): ([0-9a-f ]+)$/gm)) {
  vectors.set(match[1] as string, (match[2] as string).replaceAll(" ", ""));
}

const call = protobufCodec({
  proto: `syntax = "proto3"; package example;
    message Call { string method = 1; beamhub.Ref reply = 2; repeated beamhub.Ref streams = 3; }`,
  type: "example.Call",
});
const ref = protobufCodec({ proto: "", type: "beamhub.Ref" });

interface Vector {
  encode(): Uint8Array;
  decode(bytes: Uint8Array): unknown;
  value: unknown;
}

function codecVector(codec: Codec, value: unknown, decoded: unknown = value): Vector {
  return { encode: () => codec.encode(value), decode: (bytes) => codec.decode(bytes), value: decoded };
}

const cases: Record<string, Vector> = {
  "json ref-channel-42": codecVector(jsonCodec, new Ref("channel", 42)),
  "json ref-stream-7": codecVector(jsonCodec, new Ref("stream", 7)),
  "json ref-fd-3": codecVector(jsonCodec, new Ref("fd", 3)),
  "json bytes": codecVector(jsonCodec, new Uint8Array([0, 1, 255])),
  "json bigint": codecVector(jsonCodec, -12345678901234567890n),
  "json escape": codecVector(jsonCodec, { $x: 1 }),
  "cbor ref-channel-5": codecVector(cborCodec, new Ref("channel", 5)),
  "cbor ref-stream-7": codecVector(cborCodec, new Ref("stream", 7)),
  "cbor ref-fd-4294967295": codecVector(cborCodec, new Ref("fd", 4294967295)),
  "cbor message": codecVector(cborCodec, { reply: new Ref("channel", 5) }),
  "msgpack ref-channel-42": codecVector(msgpackCodec, new Ref("channel", 42)),
  "msgpack ref-stream-7": codecVector(msgpackCodec, new Ref("stream", 7)),
  "msgpack ref-fd-4294967295": codecVector(msgpackCodec, new Ref("fd", 4294967295)),
  "msgpack message": codecVector(msgpackCodec, { reply: new Ref("channel", 1) }),
  "protobuf ref-channel-42": codecVector(ref, { kind: 1, id: 42 }),
  "protobuf ref-fd-0": codecVector(ref, { kind: 3 }),
  "protobuf call": codecVector(call, {
    method: "get",
    reply: new Ref("channel", 42),
    streams: [new Ref("stream", 7), new Ref("fd", 0)],
  }),
  "kv ref-channel-42": codecVector(kvCodec, { reply: [new Ref("channel", 42)] }),
  "kv binary": codecVector(kvCodec, { data: [new Uint8Array([0, 255])] }),
  "kv escape": codecVector(kvCodec, { text: ["\0x"] }),
  "kv hello": {
    encode: () => encodeKv({ hello: ["world"] }),
    decode: (b) => decodeKv(b),
    value: { hello: ["world"] },
  },
  "kv record": {
    encode: () => encodeKvRecord({ hello: ["world"] }),
    decode: (bytes) => new KvRecordDecoder().push(bytes).map((entry) => entry.message.toObject()),
    value: [{ hello: ["world"] }],
  },
  "kv change-set": {
    encode: () => encodeKvChange({ op: "set", key: "hello", values: ["world"] }, 1),
    decode: (bytes) => decodeKvChange(bytes),
    value: { seq: 1, change: { op: "set", key: "hello", values: ["world"] } },
  },
  "kv change-delete": {
    encode: () => encodeKvChange({ op: "delete", key: "hello" }, 2),
    decode: (bytes) => decodeKvChange(bytes),
    value: { seq: 2, change: { op: "delete", key: "hello" } },
  },
};

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("hex");
}

describe("codecs/FORMATS.md test vectors", () => {
  it("documents exactly the vectors tested here", () => {
    expect([...vectors.keys()].sort()).toEqual(Object.keys(cases).sort());
  });

  for (const [name, vector] of Object.entries(cases)) {
    it(`${name}: encodes to the documented bytes and decodes back`, () => {
      const documented = vectors.get(name) as string;
      expect(hex(vector.encode())).toBe(documented);
      expect(normalize(vector.decode(Buffer.from(documented, "hex")))).toStrictEqual(vector.value);
    });
  }

  it("ships codecs/ref.proto with the same text as REF_PROTO", async () => {
    const { REF_PROTO } = await import("../../codecs/index.js");
    expect(readFileSync(new URL("../../codecs/ref.proto", import.meta.url), "utf8")).toBe(REF_PROTO);
  });

  it("holds the issue's kv vectors byte for byte, both ways", () => {
    const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("latin1");
    const pairs: [Record<string, string[]>, string][] = [
      [{ hello: ["world"] }, "000;5:hello,8:5:world,,"],
      [{ hello: ["beautiful", "world"] }, "000;5:hello,20:9:beautiful,5:world,,"],
      [{ foo: [] }, "000;3:foo,0:,"],
      [{}, "000;"],
    ];
    for (const [object, wire] of pairs) {
      expect(text(encodeKv(object))).toBe(wire);
      expect(decodeKv(Buffer.from(wire, "latin1"))).toStrictEqual(object);
    }
  });
});
