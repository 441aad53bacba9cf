import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { decodeKv, encodeKv, KvMessage } from "../../kv/index.js";
import type { KvValue } from "../../kv/index.js";

const utf8 = (value: KvValue) => (typeof value === "string" ? new TextEncoder().encode(value) : value);
const text = fc.string({ unit: "binary" });
const value = fc.oneof(text, fc.uint8Array({ maxLength: 40 }));

describe("kv round trip (property tests)", () => {
  it("decodes what it encodes: text exactly, every value byte for byte", () => {
    fc.assert(
      fc.property(fc.dictionary(text, fc.array(value, { maxLength: 5 })), (object) => {
        const decoded = decodeKv(encodeKv(object));
        expect(Object.keys(decoded).sort()).toEqual(Object.keys(object).sort());
        for (const key of Object.keys(object)) {
          const sent = object[key] as KvValue[];
          const received = decoded[key] as KvValue[];
          expect(received.map(utf8)).toStrictEqual(sent.map(utf8));
          sent.forEach((item, i) => {
            if (typeof item === "string") expect(received[i]).toBe(item);
          });
        }
      }),
      { seed: 1, numRuns: 500 },
    );
  });

  it("round-trips binary keys through KvMessage, and encodes canonically", () => {
    const entries = fc.uniqueArray(
      fc.tuple(fc.uint8Array({ maxLength: 12 }), fc.array(value, { maxLength: 4 })),
      {
        selector: ([key]) => Buffer.from(key).toString("hex"),
        maxLength: 8,
      },
    );
    fc.assert(
      fc.property(entries, (list) => {
        const message = new KvMessage();
        for (const [key, values] of list) message.set(key, values);
        const bytes = message.encode();
        const decoded = KvMessage.decode(bytes, { canonical: true });
        expect(decoded.equals(message)).toBe(true);
        expect(decoded.encode()).toStrictEqual(bytes);
        // Reversing the insertion order changes nothing.
        const reversed = new KvMessage();
        for (const [key, values] of [...list].reverse()) reversed.set(key, values);
        expect(reversed.encode()).toStrictEqual(bytes);
      }),
      { seed: 2, numRuns: 500 },
    );
  });
});
