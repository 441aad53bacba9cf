// PROTOCOL.md's cluster vectors, checked against the code: subject tokens and link messages.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { decodeLinkMessage, encodeLinkMessage, type LinkMessageType } from "../../cluster/link-message.js";
import { fromSubjectToken, subjectToken } from "../../cluster/subjects.js";

const protocol = readFileSync(join(import.meta.dirname, "../../PROTOCOL.md"), "utf8");

function blocks(kind: string): string[] {
  return [...protocol.matchAll(new RegExp("```" + kind + "\\n([\\s\\S]*?)```", "g"))].map(
    (match) => match[1]!,
  );
}

describe("PROTOCOL.md, Cluster", () => {
  it("escapes names into subject tokens as the vectors say, and back", () => {
    const lines = blocks("subject-token").flatMap((block) => block.trim().split("\n"));
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const line of lines) {
      const [, name, token] = line.match(/^(".*") (\S+)$/)!;
      expect(subjectToken(JSON.parse(name!) as string)).toBe(token);
      expect(fromSubjectToken(token!)).toBe(JSON.parse(name!));
    }
  });

  it("encodes and decodes every link message vector", () => {
    const vectors = blocks("cluster-vector");
    expect(vectors.length).toBeGreaterThanOrEqual(4);
    for (const vector of vectors) {
      const field = (name: string): string => vector.match(new RegExp(`^${name}:[ ]?(.*)$`, "m"))![1]!.trim();
      const type = Number(field("type")) as LinkMessageType;
      const link = Buffer.from(field("link"), "hex");
      const seq = Number(field("seq"));
      const body = Buffer.from(field("body"), "hex");
      const hex = field("hex").replace(/ /g, "");
      expect(Buffer.from(encodeLinkMessage(type, link, seq, body)).toString("hex"), field("name")).toBe(hex);
      const decoded = decodeLinkMessage(Buffer.from(hex, "hex"))!;
      expect(decoded).toMatchObject({ type, link: field("link"), seq });
      expect(Buffer.from(decoded.body).toString("hex")).toBe(body.toString("hex"));
    }
  });

  it("refuses bytes that are not a link message", () => {
    expect(decodeLinkMessage(new Uint8Array(12))).toBeUndefined();
    expect(decodeLinkMessage(new Uint8Array(13))).toBeUndefined(); // type 0
    expect(decodeLinkMessage(Uint8Array.of(9, ...new Array<number>(12).fill(0)))).toBeUndefined();
  });
});
