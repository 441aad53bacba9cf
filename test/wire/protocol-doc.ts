// PROTOCOL.md as the tests read it: its fenced blocks of vectors (```vector, ```exchange,
// ```http-vector), each a list of `key: value` lines, and the frames they describe.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Ref, type RefKind } from "../../codecs/reference.js";
import { cborCodec } from "../../codecs/index.js";
import { encodeFrame, FrameType, withRequestId } from "../../wire/frame.js";

/** The document, read once. */
export const protocolDoc = readFileSync(join(import.meta.dirname, "../../PROTOCOL.md"), "utf8");

/** Every fenced block of `kind` in the document, as its `key: value` lines (in order). */
export function blocksOf(kind: string, doc = protocolDoc): Map<string, string>[] {
  const fence = new RegExp("```" + kind + "\\n([\\s\\S]*?)```", "g");
  return [...doc.matchAll(fence)].map((match) => {
    const fields = new Map<string, string>();
    for (const line of match[1]!.trim().split("\n")) {
      const colon = line.indexOf(":");
      fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return fields;
  });
}

/** The text of one `## ` section (up to the next `## `), by its title. */
export function sectionOf(title: string, doc = protocolDoc): string {
  const start = doc.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`PROTOCOL.md has no section "${title}"`);
  const end = doc.indexOf("\n## ", start + 1);
  return doc.slice(start, end < 0 ? undefined : end);
}

const KINDS: RefKind[] = ["channel", "stream", "fd"];

/**
 * A vector's JSON with its markers made real: `{"$ref": [kind, id]}` becomes a reference,
 * `{"$bigint": "<decimal>"}` a bigint.
 */
export function withMarkers(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withMarkers);
  if (value !== null && typeof value === "object") {
    const marked = value as { $ref?: [number, number]; $bigint?: string };
    if (marked.$ref !== undefined) return new Ref(KINDS[marked.$ref[0]]!, marked.$ref[1]);
    if (marked.$bigint !== undefined) return BigInt(marked.$bigint);
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withMarkers(item)]));
  }
  return value;
}

/** Hooks that let references through the codec as they are (no session behind them). */
export const plainRefHooks = { toRef: (value: unknown) => value as Ref, fromRef: (ref: Ref) => ref };

/** What a `frame:` line says. */
export interface FrameLine {
  type: number;
  id: number;
  fds: number;
  requestId: number | undefined;
}

export function parseFrameLine(line: string): FrameLine {
  const [typeName, ...attributes] = line.split(" ");
  const attribute = (key: string): number | undefined => {
    const found = attributes.find((item) => item.startsWith(`${key}=`));
    return found === undefined ? undefined : Number(found.slice(key.length + 1));
  };
  return {
    type: FrameType[typeName as keyof typeof FrameType],
    id: attribute("id")!,
    fds: attribute("fds")!,
    requestId: attribute("request"),
  };
}

/** The payload a vector describes (`json`, `body` or `raw`), request id included. */
export function payloadOf(vector: Map<string, string>): Uint8Array {
  let body: Uint8Array;
  if (vector.has("json")) body = new TextEncoder().encode(vector.get("json")!);
  else if (vector.has("body"))
    body = cborCodec.encode(withMarkers(JSON.parse(vector.get("body")!)), plainRefHooks);
  else body = Buffer.from(vector.get("raw") ?? "", "hex");
  const { requestId } = parseFrameLine(vector.get("frame")!);
  return requestId === undefined ? body : withRequestId(requestId, body);
}

/** The frame a vector describes, encoded by the implementation. */
export function encodeVector(vector: Map<string, string>): Uint8Array {
  const { type, id, fds } = parseFrameLine(vector.get("frame")!);
  return encodeFrame(type, id, payloadOf(vector), fds);
}

/** A vector's `hex:` line as bytes. */
export function bytesOf(vector: Map<string, string>): Buffer {
  return Buffer.from(vector.get("hex")!.replace(/\s+/g, ""), "hex");
}

/** The frame vectors by name. */
export function frameVectors(): Map<string, Map<string, string>> {
  return new Map(blocksOf("vector").map((vector) => [vector.get("name")!, vector]));
}
