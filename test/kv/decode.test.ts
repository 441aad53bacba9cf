// Hostile input: every malformed message is a KvDecodeError that names the problem and the
// byte offset; nothing hangs, crashes or throws anything else.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeKv, encodeKv, KvDecodeError, KvMessage } from "../../kv/index.js";
import type { KvDecodeOptions } from "../../kv/index.js";

const latin1 = (text: string) => Uint8Array.from(Buffer.from(text, "latin1"));

function failure(text: string | Uint8Array, options?: KvDecodeOptions): KvDecodeError {
  const bytes = typeof text === "string" ? latin1(text) : text;
  try {
    decodeKv(bytes, options);
  } catch (error) {
    expect(error).toBeInstanceOf(KvDecodeError);
    // The binary-safe decoder agrees on code and offset.
    try {
      KvMessage.decode(bytes, options);
    } catch (other) {
      if ((error as KvDecodeError).code !== "EKV_UTF8") {
        expect([(other as KvDecodeError).code, (other as KvDecodeError).offset]).toEqual([
          (error as KvDecodeError).code,
          (error as KvDecodeError).offset,
        ]);
      }
    }
    return error as KvDecodeError;
  }
  throw new Error(`decoded without error: ${JSON.stringify(text)}`);
}

describe("kv decoding of hostile input", () => {
  const cases: [string, string, string, number][] = [
    ["empty input", "", "EKV_HEADER", 0],
    ["truncated header", "00", "EKV_HEADER", 2],
    ["wrong header", "001;", "EKV_HEADER", 2],
    ["non-digit in a key length", "000;5x:hello,", "EKV_DIGIT", 5],
    ["length that is not a number", "000;:a,", "EKV_DIGIT", 4],
    ["negative length", "000;-1:a,", "EKV_DIGIT", 4],
    ["leading zero", "000;05:hello,0:,", "EKV_LEADING_ZERO", 4],
    ["zero then junk", "000;0x", "EKV_DIGIT", 5],
    ["missing comma after a key", "000;5:hello;8:5:world,,", "EKV_COMMA", 11],
    ["missing comma after a value", "000;5:hello,8:5:world;,", "EKV_COMMA", 21],
    ["missing comma after the values", "000;5:hello,8:5:world,;", "EKV_COMMA", 22],
    ["truncated key", "000;5:hel", "EKV_TRUNCATED", 4],
    ["truncated length", "000;12", "EKV_TRUNCATED", 4],
    ["key without values", "000;5:hello,", "EKV_TRUNCATED", 12],
    ["truncated value list", "000;5:hello,8:5:wor", "EKV_TRUNCATED", 12],
    ["value longer than its list", "000;1:a,4:9:ab,,", "EKV_TRUNCATED", 10],
    ["list shorter than it says", "000;1:a,4:9:abcdefghi,,", "EKV_COMMA", 14],
    ["length beyond the input", "000;999999:a,", "EKV_TRUNCATED", 4],
    ["duplicate key", "000;1:a,0:,1:a,0:,", "EKV_DUPLICATE_KEY", 11],
    ["duplicate key, unordered", "000;1:b,0:,1:a,0:,1:b,0:,", "EKV_DUPLICATE_KEY", 18],
  ];
  for (const [what, text, code, offset] of cases) {
    it(`${what}: ${code} at byte ${offset}`, () => {
      const error = failure(text);
      expect(error.code).toBe(code);
      expect(error.offset).toBe(offset);
      expect(error.message).toContain(`at byte ${offset}`);
    });
  }

  it("refuses lengths above the configured maximum as soon as the digits exceed it", () => {
    const error = failure("000;1:a,4:1:b,,1:c,2000:", { maxLength: 1000 });
    expect([error.code, error.offset]).toEqual(["EKV_TOO_LONG", 19]);
    expect(failure(`000;${"9".repeat(1_000_000)}:`).code).toBe("EKV_TOO_LONG");
    expect(decodeKv(latin1("000;1:a,4:1:b,,"), { maxLength: 4 })).toStrictEqual({ a: ["b"] });
  });

  it("accepts any key order unless asked for canonical form", () => {
    expect(decodeKv(latin1("000;1:b,0:,1:a,0:,"))).toStrictEqual({ b: [], a: [] });
    const error = failure("000;1:b,0:,1:a,0:,", { canonical: true });
    expect([error.code, error.offset]).toEqual(["EKV_KEY_ORDER", 11]);
    expect(() => decodeKv(encodeKv({ "\u{1F600}": "", "\uE000": "" }), { canonical: true })).not.toThrow();
  });

  it("refuses a key that is not UTF-8 in the object form (the message form keeps it)", () => {
    const bytes = Uint8Array.from([...latin1("000;1:"), 0xff, ...latin1(",0:,")]);
    expect([failure(bytes).code, failure(bytes).offset]).toEqual(["EKV_UTF8", 6]);
    expect(KvMessage.decode(bytes).keys()).toStrictEqual([new Uint8Array([0xff])]);
  });

  it("keeps a __proto__ key as data", () => {
    const decoded = decodeKv(latin1("000;9:__proto__,4:1:x,,"));
    expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(decoded, "__proto__")?.value).toEqual(["x"]);
  });

  it("throws only KvDecodeError on random bytes (property test)", () => {
    const header = latin1("000;");
    const noise = fc.oneof(
      fc.uint8Array({ maxLength: 48 }),
      fc.uint8Array({ maxLength: 48 }).map((bytes) => Uint8Array.from([...header, ...bytes])),
      fc
        .array(fc.constantFrom(..."0123456789:,;a"), { maxLength: 40 })
        .map((chars) => latin1(`000;${chars.join("")}`)),
    );
    fc.assert(
      fc.property(noise, (bytes) => {
        for (const decode of [decodeKv, KvMessage.decode]) {
          try {
            decode(bytes);
          } catch (error) {
            if (!(error instanceof KvDecodeError)) throw error;
          }
        }
      }),
      { seed: 42, numRuns: 3000 },
    );
  });

  it("throws only KvDecodeError on valid messages with bytes changed or cut (property test)", () => {
    const message = fc.dictionary(fc.string(), fc.array(fc.string(), { maxLength: 3 }), { maxKeys: 4 });
    fc.assert(
      fc.property(message, fc.nat(), fc.integer({ min: 0, max: 255 }), fc.nat(), (object, at, value, cut) => {
        const bytes = encodeKv(object).slice();
        bytes[at % bytes.length] = value;
        for (const input of [bytes, bytes.subarray(0, cut % (bytes.length + 1))]) {
          try {
            decodeKv(input);
          } catch (error) {
            if (!(error instanceof KvDecodeError)) throw error;
          }
        }
      }),
      { seed: 43, numRuns: 2000 },
    );
  });
});
