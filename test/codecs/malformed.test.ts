// Malformed input never crashes a codec: it either decodes to something (some formats accept
// prefixes or arbitrary bytes) or throws DecodeError, and nothing else. Specific malformed
// references are DecodeErrors too.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  builtinCodecs,
  cborCodec,
  DecodeError,
  jsonCodec,
  kvCodec,
  msgpackCodec,
} from "../../codecs/index.js";
import type { Codec } from "../../codecs/index.js";
import { corpus, corpusProtobuf } from "./corpus.js";

const codecs = [...builtinCodecs, corpusProtobuf];

/** Decodes and reports the outcome; fails the test on any error that is not a DecodeError. */
function attempt(codec: Codec, bytes: Uint8Array): "ok" | "error" {
  try {
    codec.decode(bytes);
    return "ok";
  } catch (error) {
    if (!(error instanceof DecodeError)) {
      throw new Error(`${codec.name} threw ${String(error)} for ${Buffer.from(bytes).toString("hex")}`, {
        cause: error,
      });
    }
    return "error";
  }
}

function encodings(codec: Codec): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const testCase of corpus) {
    const outcome = testCase.codecs?.[codec.name];
    if (outcome !== undefined && "limit" in outcome) continue;
    out.push(codec.encode(outcome?.input ?? testCase.value));
  }
  return out;
}

// Formats in which no proper prefix of an encoded message is itself a message.
const SELF_DELIMITING = new Set(["json", "cbor", "msgpack"]);

describe.each(codecs.map((codec) => [codec.name, codec] as const))("%s on malformed input", (name, codec) => {
  it("gives DecodeError (or a value) for every truncation of every corpus message", () => {
    for (const bytes of encodings(codec)) {
      for (let length = 0; length < bytes.length; length++) {
        const outcome = attempt(codec, bytes.slice(0, length));
        if (SELF_DELIMITING.has(name)) expect(outcome).toBe("error");
      }
    }
  });

  it("gives DecodeError (or a value) for random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        attempt(codec, bytes);
      }),
      { seed: 0x5eed, numRuns: 2000 },
    );
  });

  it("gives DecodeError (or a value) for corpus messages with bytes changed", () => {
    const messages = encodings(codec);
    fc.assert(
      fc.property(
        fc.nat({ max: messages.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
        (which, edits) => {
          const bytes = (messages[which] as Uint8Array).slice();
          for (const [at, value] of edits) bytes[at % bytes.length] = value;
          attempt(codec, bytes);
        },
      ),
      { seed: 0xbea0, numRuns: 1000 },
    );
  });

  it("keeps working after a failed decode", () => {
    const [first] = encodings(codec);
    expect(attempt(codec, new Uint8Array([0xff, 0xff, 0xff]))).toBeDefined();
    expect(attempt(codec, first as Uint8Array)).toBe("ok");
  });
});

const hex = (text: string) => Uint8Array.from(Buffer.from(text.replaceAll(" ", ""), "hex"));
const utf8 = (text: string) => new TextEncoder().encode(text);

describe("malformed references and tags", () => {
  const cases: [Codec, string, Uint8Array][] = [
    [jsonCodec, "unknown tag", utf8('{"$nope":1}')],
    [jsonCodec, "negative id", utf8('{"$channel":-1}')],
    [jsonCodec, "fractional id", utf8('{"$fd":1.5}')],
    [jsonCodec, "id above uint32", utf8('{"$stream":4294967296}')],
    [jsonCodec, "id as text", utf8('{"$stream":"1"}')],
    [jsonCodec, "bad base64", utf8('{"$bytes":"!!!!"}')],
    [jsonCodec, "unpadded base64", utf8('{"$bytes":"AAH"}')],
    [jsonCodec, "bad bigint", utf8('{"$bigint":"01"}')],
    [jsonCodec, "escape of a non-object", utf8('{"$":[1]}')],
    [jsonCodec, "invalid UTF-8", hex("22 ff 22")],
    [jsonCodec, "byte-order mark", hex("ef bb bf 31")],
    [cborCodec, "kind 3", hex("d9 9e 99 82 03 01")],
    [cborCodec, "negative kind", hex("d9 9e 99 82 20 01")],
    [cborCodec, "id above uint32", hex("d9 9e 99 82 01 1b 00 00 00 01 00 00 00 00")],
    [cborCodec, "not an array", hex("d9 9e 99 01")],
    [cborCodec, "array of 3", hex("d9 9e 99 83 01 01 01")],
    [msgpackCodec, "short payload", hex("d6 68 01 00 00 00")],
    [msgpackCodec, "kind 3", hex("c7 05 68 03 00 00 00 01")],
    [msgpackCodec, "never-used byte", hex("c1")],
    [msgpackCodec, "nested never-used byte", hex("92 01 c1")],
    [corpusProtobuf, "kind unspecified", hex("5a 02 10 05")],
    [corpusProtobuf, "kind 9", hex("5a 04 08 09 10 05")],
    [corpusProtobuf, "truncated string", hex("0a 05 61 62")],
    [corpusProtobuf, "truncated varint", hex("10 ff ff")],
    [corpusProtobuf, "bad wire type", hex("0f")],
    [kvCodec, "unknown marker", utf8("000;1:a,4:1:\0x,,")],
    [kvCodec, "id with leading zero", utf8("000;1:a,6:3:\0c01,,")],
    [kvCodec, "id above uint32", utf8("000;1:a,15:12:\0c4294967296,,")],
    [kvCodec, "empty id", utf8("000;1:a,5:2:\0s,,")],
    [kvCodec, "missing comma", utf8("000;1:a,5:2:ab;,")],
    [kvCodec, "key not UTF-8", hex("30 30 30 3b 31 3a ff 2c 30 3a 2c")],
  ];
  for (const [codec, what, bytes] of cases) {
    it(`${codec.name}: ${what}`, () => {
      expect(() => codec.decode(bytes)).toThrow(DecodeError);
    });
  }

  it("kv decode errors carry the byte offset", () => {
    try {
      kvCodec.decode(utf8("000;1:a,5:2:ab;,"));
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DecodeError);
      expect((error as DecodeError).offset).toBe(14);
    }
  });
});
