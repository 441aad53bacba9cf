// Every codec runs the same conformance corpus: what goes in comes back out (allowing for each
// format's documented differences), and what a codec cannot carry fails with EncodeError.
import { describe, expect, it } from "vitest";
import { builtinCodecs, EncodeError } from "../../codecs/index.js";
import { corpus, corpusProtobuf, normalize } from "./corpus.js";

const codecs = [...builtinCodecs, corpusProtobuf];

describe.each(codecs.map((codec) => [codec.name, codec] as const))("%s conformance", (name, codec) => {
  for (const testCase of corpus) {
    const outcome = testCase.codecs?.[name];
    if (outcome !== undefined && "limit" in outcome) {
      it(`${testCase.name}: refused with EncodeError (documented limit)`, () => {
        let thrown: unknown;
        try {
          codec.encode(testCase.value);
        } catch (error) {
          thrown = error;
        }
        expect(thrown).toBeInstanceOf(EncodeError);
        expect((thrown as Error).message).toMatch(outcome.limit);
      });
      continue;
    }
    it(`${testCase.name}: round-trips`, () => {
      const input = outcome?.input ?? testCase.value;
      const expected = outcome !== undefined && "value" in outcome ? outcome.value : testCase.value;
      const bytes = codec.encode(input);
      expect(bytes).toBeInstanceOf(Uint8Array);
      expect(normalize(codec.decode(bytes))).toStrictEqual(expected);
      // Decoding a copy gives the same: nothing depends on the encoder's buffer.
      expect(normalize(codec.decode(new Uint8Array(bytes)))).toStrictEqual(expected);
    });
  }

  it("has a name and a content type", () => {
    expect(codec.name).toMatch(/^(json|cbor|msgpack|protobuf|kv)$/);
    expect(codec.contentType).toMatch(/^application\//);
  });
});
