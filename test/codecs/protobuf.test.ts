import protobuf from "protobufjs";
import { describe, expect, it } from "vitest";
import {
  addRefType,
  CodecError,
  DecodeError,
  EncodeError,
  protobufCodec,
  Ref,
  REF_PROTO,
} from "../../codecs/index.js";
import { corpusProtobuf } from "./corpus.js";

describe("protobuf codec", () => {
  it("works with a Root the application loaded itself", () => {
    const root = addRefType(new protobuf.Root());
    protobuf.parse(
      `syntax = "proto3"; package app; message Job { string job_name = 1; beamhub.Ref done = 2; }`,
      root,
    );
    // protobufjs camel-cases field names by default; the codec uses the names the Root has.
    const codec = protobufCodec({ root, type: "app.Job" });
    const value = { jobName: "x", done: new Ref("channel", 9) };
    expect(codec.decode(codec.encode(value))).toStrictEqual(value);
  });

  it("keeps field names as written when given .proto source", () => {
    const codec = protobufCodec({
      proto: `syntax = "proto3"; message Job { string job_name = 1; }`,
      type: "Job",
    });
    expect(codec.decode(codec.encode({ job_name: "x" }))).toStrictEqual({ job_name: "x" });
  });

  it("adds beamhub.Ref only once", () => {
    const root = addRefType(addRefType(new protobuf.Root()));
    expect(root.lookupType("beamhub.Ref").fieldsArray.map((field) => field.name)).toEqual(["kind", "id"]);
    expect(REF_PROTO).toContain("message Ref");
  });

  it("reports an unusable schema as a CodecError", () => {
    expect(() =>
      protobufCodec({ proto: `syntax = "proto3"; message A { Missing m = 1; }`, type: "A" }),
    ).toThrow(CodecError);
    expect(() => protobufCodec({ proto: `syntax = "proto3"; message A {}`, type: "B" })).toThrow(CodecError);
    const bare = new protobuf.Root();
    protobuf.parse(`syntax = "proto3"; message A { beamhub.Ref r = 1; }`, bare);
    expect(() => protobufCodec({ root: bare, type: "A" })).toThrow(/unusable schema/);
  });

  it("refuses values that do not fit the schema", () => {
    const bad: unknown[] = [
      { nope: 1 },
      { text: 5 },
      { count: "many" },
      { tags: "not a list" },
      { reply: { kind: 1, id: 2 } },
      { big: 2n ** 63n },
      { ubig: -1n },
      { children: [5] },
      { labels: [1] },
      "not an object",
    ];
    for (const value of bad) expect(() => corpusProtobuf.encode(value)).toThrow(EncodeError);
  });

  it("decodes 64-bit fields as bigint, from numbers or bigints", () => {
    expect(corpusProtobuf.decode(corpusProtobuf.encode({ big: 5, ubig: 6n }))).toStrictEqual({
      big: 5n,
      ubig: 6n,
    });
  });

  it("copies bytes fields out of the input", () => {
    const input = corpusProtobuf.encode({ data: new Uint8Array([1, 2, 3]) });
    const decoded = corpusProtobuf.decode(input) as { data: Uint8Array };
    input.fill(0);
    expect(decoded.data).toStrictEqual(new Uint8Array([1, 2, 3]));
  });

  it("refuses a truncated string even when handed a Node Buffer", () => {
    expect(() => corpusProtobuf.decode(Buffer.from("0a0561", "hex"))).toThrow(DecodeError);
  });
});
