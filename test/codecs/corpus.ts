// The conformance corpus: one set of messages that every codec must round-trip, each with what
// a codec gives back where its format differs (protobuf drops default values) or the documented
// reason it cannot carry the message at all (kv is flat; protobuf needs a schema shape).
import { Buffer } from "node:buffer";
import { protobufCodec, Ref } from "../../codecs/index.js";
import type { Codec } from "../../codecs/index.js";

/** The protobuf schema the corpus is written against. */
export const CORPUS_PROTO = `
syntax = "proto3";
package corpus;

message Sample {
  string text = 1;
  int32 count = 2;
  double ratio = 3;
  bool flag = 4;
  bytes data = 5;
  int64 big = 6;
  uint64 ubig = 7;
  repeated string tags = 8;
  repeated Sample children = 9;
  map<string, string> labels = 10;
  beamhub.Ref reply = 11;
  repeated beamhub.Ref streams = 12;
  beamhub.Ref fd = 13;
}
`;

export const corpusProtobuf: Codec = protobufCodec({ proto: CORPUS_PROTO, type: "corpus.Sample" });

/** A codec's outcome for a case: the value it decodes to, or a limit (an EncodeError matching `limit`). */
export type Outcome = { value: unknown; input?: unknown } | { limit: RegExp };

export interface CorpusCase {
  name: string;
  /** The message. */
  value: unknown;
  /** Per-codec differences: what it decodes to, the input it takes instead, or its limit. */
  codecs?: Partial<Record<string, Outcome>>;
}

const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

export const corpus: CorpusCase[] = [
  {
    name: "nested data",
    value: {
      text: "root",
      count: 3,
      ratio: 0.5,
      flag: true,
      tags: ["a", "b"],
      children: [
        { text: "child", children: [{ text: "grandchild", count: -7, children: [{ ratio: 1e-300 }] }] },
      ],
      labels: { env: "prod", zone: "eu-1" },
    },
    codecs: { kv: { limit: /kv carries only strings, Uint8Arrays and references/ } },
  },
  {
    name: "binary",
    value: { data: new Uint8Array([0, 1, 127, 128, 255, 0]), children: [{ data: allBytes }] },
    codecs: {
      kv: {
        input: { data: [new Uint8Array([0, 1, 127, 128, 255, 0]), allBytes] },
        value: { data: [new Uint8Array([0, 1, 127, 128, 255, 0]), allBytes] },
      },
    },
  },
  {
    name: "big integers",
    value: { big: -(2n ** 63n), ubig: 2n ** 64n - 1n, children: [{ big: 2n ** 53n + 1n, ubig: 1n }] },
    codecs: { kv: { limit: /kv carries only strings/ } },
  },
  {
    name: "big integers beyond 64 bits",
    value: { big: 2n ** 100n, ubig: -(3n ** 70n) },
    codecs: {
      protobuf: { limit: /does not fit in a/ },
      kv: { limit: /kv carries only strings/ },
    },
  },
  {
    name: "unicode",
    value: {
      text: "héllo wörld ☃ 😀 日本語 \u0000 nul \u{10FFFF} \uFFFD",
      tags: ["", "ß", "\u{1F600}", "\uE000", "a\u0301"],
      labels: { ключ: "значение", "😀": "smile" },
    },
    codecs: {
      kv: {
        input: {
          text: ["héllo wörld ☃ 😀 日本語 \u0000 nul \u{10FFFF} \uFFFD"],
          tags: ["", "ß", "\u{1F600}", "\uE000", "a\u0301"],
          ключ: ["значение"],
          "😀": ["smile"],
        },
        value: {
          text: ["héllo wörld ☃ 😀 日本語 \u0000 nul \u{10FFFF} \uFFFD"],
          tags: ["", "ß", "\u{1F600}", "\uE000", "a\u0301"],
          ключ: ["значение"],
          "😀": ["smile"],
        },
      },
    },
  },
  {
    name: "empty containers",
    value: { text: "", tags: [], children: [{}], labels: {} },
    codecs: {
      // proto3 cannot send an empty list or map: they come back absent.
      protobuf: { value: { text: "", children: [{}] } },
      kv: { input: { text: [""], tags: [] }, value: { text: [""], tags: [] } },
    },
  },
  {
    name: "references",
    value: {
      reply: new Ref("channel", 1),
      streams: [new Ref("stream", 2), new Ref("stream", 4294967295)],
      fd: new Ref("fd", 0),
      children: [{ reply: new Ref("channel", 77) }],
    },
    codecs: {
      kv: {
        input: {
          reply: new Ref("channel", 1),
          streams: [new Ref("stream", 2), new Ref("stream", 4294967295)],
          fd: [new Ref("fd", 0)],
        },
        value: {
          reply: [new Ref("channel", 1)],
          streams: [new Ref("stream", 2), new Ref("stream", 4294967295)],
          fd: [new Ref("fd", 0)],
        },
      },
    },
  },
  {
    name: "scalars",
    value: { count: 2147483647, ratio: -1.5e-300, flag: false, text: "x" },
    codecs: { kv: { limit: /kv carries only strings/ } },
  },
  {
    name: "free-form data and tag look-alikes",
    value: [
      1,
      "two",
      null,
      [3, [4, { five: 5 }]],
      { $ref: "not a tag" },
      { $: 1 },
      { $channel: 5, other: true },
    ],
    codecs: {
      protobuf: { limit: /must be a plain object/ },
      kv: { limit: /a message must be a plain object/ },
    },
  },
  {
    name: "flat strings (kv's home ground)",
    value: { method: ["GET"], path: ["/users/42"], accept: ["text/plain", "application/json"], empty: [] },
    codecs: {
      protobuf: { limit: /has no field "method"/ },
    },
  },
];

/** Makes decoded values comparable: Node Buffers become plain Uint8Arrays, recursively. */
export function normalize(value: unknown): unknown {
  if (Buffer.isBuffer(value)) return new Uint8Array(value);
  if (Array.isArray(value)) return value.map(normalize);
  if (typeof value === "object" && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value)) {
      Object.defineProperty(out, key, {
        value: normalize((value as Record<string, unknown>)[key]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return value;
}
