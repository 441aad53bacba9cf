// JSON, with documented object forms for what plain JSON lacks. A tagged value is an object
// with exactly one key that starts with "$":
//   {"$channel": 42}  {"$stream": 7}  {"$fd": 3}    references (id: JSON integer, uint32)
//   {"$bytes": "AAH/"}                               a Uint8Array (RFC 4648 base64, padded)
//   {"$bigint": "-12345678901234567890"}             a bigint (decimal, canonical)
//   {"$": {...}}                                     escape: the inner object is taken as is
// A user object with exactly one key starting with "$" is written with the escape, so any
// object round-trips. Other "$" tags are refused when decoding.
import { Buffer } from "node:buffer";
import { isUtf8, utf8 } from "../kv/bytes.js";
import { decodeFailure, DecodeError, encodeFailure, EncodeError } from "./errors.js";
import { isPlainObject, setOwn } from "./own.js";
import { fromWireRef, Referable, refKindOfCode, REF_KIND_CODES, toWireRef } from "./reference.js";
import type { Codec, RefHooks } from "./reference.js";

/** Nesting deeper than this is refused (it is almost certainly a cycle). */
const MAX_DEPTH = 1000;
const DOLLAR = 0x24;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BIGINT = /^-?(?:0|[1-9][0-9]*)$/;

/** Converts a value to plain JSON data, copying only the parts that change. */
function toJson(value: unknown, hooks: RefHooks | undefined, depth: number): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
    case "undefined":
      return value;
    case "number":
      if (!Number.isFinite(value))
        throw new EncodeError(`json: cannot encode ${value} (JSON has no such number)`);
      return value;
    case "bigint":
      return { $bigint: value.toString() };
    case "object":
      return value === null ? null : objectToJson(value, hooks, depth);
    default:
      // Functions and symbols are left out, as JSON.stringify does.
      return undefined;
  }
}

function objectToJson(value: object, hooks: RefHooks | undefined, depth: number): unknown {
  if (depth > MAX_DEPTH)
    throw new EncodeError(`json: value nested deeper than ${MAX_DEPTH} levels (or cyclic)`);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      const converted = toJson(item, hooks, depth + 1);
      if (converted !== item && copy === undefined) copy = value.slice(0, i);
      if (copy !== undefined) copy.push(converted);
    }
    return copy ?? value;
  }
  if (value instanceof Referable) {
    const ref = toWireRef(value, hooks);
    return { [`$${ref.kind}`]: ref.id };
  }
  if (value instanceof Uint8Array) {
    return { $bytes: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64") };
  }
  if (!isPlainObject(value)) {
    const toJSON = (value as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === "function") return toJson(toJSON.call(value), hooks, depth + 1);
    if (
      value instanceof Map ||
      value instanceof Set ||
      value instanceof ArrayBuffer ||
      ArrayBuffer.isView(value)
    ) {
      throw new EncodeError(
        `json: cannot encode a ${value.constructor.name} (use a plain object, array or Uint8Array)`,
      );
    }
    // Any other class instance is written as its own enumerable properties, as JSON.stringify does.
  }
  const source = value as Record<string, unknown>;
  const keys = Object.keys(source);
  let copy: Record<string, unknown> | undefined;
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = source[key];
    const converted = toJson(item, hooks, depth + 1);
    if (converted !== item && copy === undefined) {
      copy = {};
      for (let j = 0; j < i; j++) setOwn(copy, keys[j] as string, source[keys[j] as string]);
    }
    if (copy !== undefined) setOwn(copy, key, converted);
  }
  const result = copy ?? source;
  // An object that looks like a tag is escaped, so that it decodes as itself.
  if (keys.length === 1 && (keys[0] as string).charCodeAt(0) === DOLLAR) return { $: result };
  return result;
}

/** Replaces tagged objects in freshly parsed JSON (in place where possible). */
function fromJson(value: unknown, hooks: RefHooks | undefined, depth: number): unknown {
  if (typeof value !== "object" || value === null) return value;
  if (depth > MAX_DEPTH) throw new DecodeError(`json: value nested deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i];
      if (typeof item === "object" && item !== null) value[i] = fromJson(item, hooks, depth + 1);
    }
    return value;
  }
  const object = value as Record<string, unknown>;
  const keys = Object.keys(object);
  if (keys.length === 1 && (keys[0] as string).charCodeAt(0) === DOLLAR) {
    return fromTag(keys[0] as string, object[keys[0] as string], hooks, depth);
  }
  return fromMembers(object, keys, hooks, depth);
}

function fromMembers(
  object: Record<string, unknown>,
  keys: string[],
  hooks: RefHooks | undefined,
  depth: number,
): unknown {
  for (const key of keys) {
    const item = object[key];
    if (typeof item === "object" && item !== null) {
      const decoded = fromJson(item, hooks, depth + 1);
      if (decoded !== item) setOwn(object, key, decoded);
    }
  }
  return object;
}

function fromTag(tag: string, inner: unknown, hooks: RefHooks | undefined, depth: number): unknown {
  switch (tag) {
    case "$":
      if (typeof inner !== "object" || inner === null || Array.isArray(inner)) {
        throw new DecodeError('json: "$" (escape) must hold an object');
      }
      return fromMembers(inner as Record<string, unknown>, Object.keys(inner), hooks, depth + 1);
    case "$channel":
    case "$stream":
    case "$fd": {
      const kind = tag.slice(1) as keyof typeof REF_KIND_CODES;
      return fromWireRef(refKindOfCode(REF_KIND_CODES[kind]), inner, hooks);
    }
    case "$bytes": {
      if (typeof inner !== "string" || !BASE64.test(inner))
        throw new DecodeError('json: "$bytes" must hold base64 text');
      const bytes = Buffer.from(inner, "base64");
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
    case "$bigint":
      if (typeof inner !== "string" || !BIGINT.test(inner))
        throw new DecodeError('json: "$bigint" must hold decimal digits');
      return BigInt(inner);
    default:
      throw new DecodeError(`json: unknown tag ${JSON.stringify(tag)} (escape user objects as {"$": {...}})`);
  }
}

/**
 * The JSON codec (`application/json`). Plain data is plain JSON; references, binary and
 * bigints use the tagged objects documented in FORMATS.md. Numbers must be finite;
 * `undefined`, functions and symbols are left out as JSON.stringify does; other class instances
 * are written through their `toJSON` (a Date becomes its ISO string) or as their own properties,
 * and Map, Set and typed arrays other than Uint8Array are refused.
 */
export const jsonCodec: Codec = {
  name: "json",
  contentType: "application/json",
  encode(value: unknown, hooks?: RefHooks): Uint8Array {
    let text: string | undefined;
    try {
      text = JSON.stringify(toJson(value, hooks, 0)) as string | undefined;
    } catch (error) {
      throw encodeFailure("json", error);
    }
    if (text === undefined) throw new EncodeError(`json: cannot encode ${typeof value} at the top level`);
    const bytes = Buffer.from(text, "utf8");
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  },
  decode(bytes: Uint8Array, hooks?: RefHooks): unknown {
    if (!isUtf8(bytes)) throw new DecodeError("json: input is not valid UTF-8");
    try {
      return fromJson(JSON.parse(utf8(bytes, 0, bytes.length)), hooks, 0);
    } catch (error) {
      throw decodeFailure("json", error);
    }
  },
};
