// The test vectors of PROTOCOL.md, checked both ways: the implementation's encoder produces
// exactly the documented bytes, and its decoder reads them back into the documented fields.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Ref, type RefKind } from "../../codecs/reference.js";
import { encodeFrame, FrameDecoder, FrameType, splitRequestId, withRequestId } from "../../wire/frame.js";
import { cborCodec } from "../../codecs/index.js";
import { decodeHello } from "../../wire/hello.js";

const KINDS: RefKind[] = ["channel", "stream", "fd"];
const doc = await readFile(join(import.meta.dirname, "../../PROTOCOL.md"), "utf8");
const vectors = [...doc.matchAll(/```vector\n([\s\S]*?)```/g)].map((match) => {
  const fields = new Map<string, string>();
  for (const line of match[1]!.trim().split("\n")) {
    const colon = line.indexOf(":");
    fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
});

/** JSON with `{"$ref": [kind, id]}` markers turned into references, and back. */
function withRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withRefs);
  if (value !== null && typeof value === "object") {
    const ref = (value as { $ref?: [number, number] }).$ref;
    if (ref !== undefined) return new Ref(KINDS[ref[0]]!, ref[1]);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withRefs(item)]));
  }
  return value;
}
const hooks = { toRef: (value: unknown) => value as Ref, fromRef: (ref: Ref) => ref };

describe("PROTOCOL.md test vectors", () => {
  it("documents vectors", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
  });

  for (const vector of vectors) {
    it(vector.get("name")!, () => {
      const [typeName, ...attributes] = vector.get("frame")!.split(" ");
      const attribute = (key: string): number | undefined => {
        const found = attributes.find((item) => item.startsWith(`${key}=`));
        return found === undefined ? undefined : Number(found.slice(key.length + 1));
      };
      const type = FrameType[typeName as keyof typeof FrameType];
      const id = attribute("id")!;
      const fds = attribute("fds")!;
      const requestId = attribute("request");
      const bytes = Buffer.from(vector.get("hex")!.replace(/\s+/g, ""), "hex");

      let body: Uint8Array;
      if (vector.has("json")) body = new TextEncoder().encode(vector.get("json")!);
      else if (vector.has("body")) body = cborCodec.encode(withRefs(JSON.parse(vector.get("body")!)), hooks);
      else body = Buffer.from(vector.get("raw") ?? "", "hex");
      const payload = requestId === undefined ? body : withRequestId(requestId, body);
      expect(Buffer.from(encodeFrame(type, id, payload, fds)).toString("hex")).toBe(bytes.toString("hex"));

      // Fed one byte at a time, the decoder still finds exactly this frame.
      const decoder = new FrameDecoder(1 << 24);
      const frames = [...bytes].flatMap((byte) => decoder.push(new Uint8Array([byte])));
      expect(frames).toHaveLength(1);
      const frame = frames[0]!;
      expect({ type: frame.type, id: frame.id, fdCount: frame.fdCount }).toEqual({ type, id, fdCount: fds });
      // A HELLO's JSON is read back whole: every field the vector shows, optional ones too.
      if (type === FrameType.HELLO)
        expect(decodeHello(frame.payload)).toEqual(JSON.parse(vector.get("json")!));
      if (vector.has("body")) {
        const { requestId: decodedId, body: decodedBody } =
          requestId === undefined ? { requestId: undefined, body: frame.payload } : splitRequestId(frame);
        expect(decodedId).toBe(requestId);
        expect(cborCodec.decode(decodedBody, hooks)).toEqual(withRefs(JSON.parse(vector.get("body")!)));
      }
    });
  }
});
