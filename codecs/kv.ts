// The kv codec: Beam's key → values format (see kv/) as a message codec. A message is a flat
// object whose values are strings, Uint8Arrays or references, or arrays of them. Text values
// are written as their UTF-8 bytes, exactly as kv/ writes them, so plain string messages are
// plain Beam kv. Other values are marked by a first byte 0x00 (which text rarely starts with):
//   00 62 <bytes>        a Uint8Array ("b")
//   00 63 <decimal id>   Ref("channel", id)  ("c")
//   00 73 <decimal id>   Ref("stream", id)   ("s")
//   00 66 <decimal id>   Ref("fd", id)       ("f")
//   00 00 <rest>         escape: a value that itself starts with 0x00 (the first byte is dropped)
// A value without a marker decodes to a string if it is valid UTF-8, else to a Uint8Array.
import { utf8Bytes } from "../kv/bytes.js";
import { decodeKv } from "../kv/decode.js";
import { encodeKv } from "../kv/encode.js";
import { KvDecodeError, KvError } from "../kv/errors.js";
import type { KvRecord, KvValue } from "../kv/types.js";
import { DecodeError, decodeFailure, EncodeError, encodeFailure } from "./errors.js";
import { isPlainObject, setOwn } from "./own.js";
import { fromWireRef, Referable, toWireRef } from "./reference.js";
import type { Codec, RefHooks, RefKind } from "./reference.js";

const NUL = 0x00;
const BINARY = 0x62; // "b"
const KIND_LETTER: Readonly<Record<RefKind, string>> = { channel: "c", stream: "s", fd: "f" };
const LETTER_KIND: Readonly<Record<string, RefKind>> = { c: "channel", s: "stream", f: "fd" };
const DECIMAL = /^(?:0|[1-9][0-9]{0,9})$/;

function toKvValue(value: unknown, key: string, hooks: RefHooks | undefined): KvValue {
  if (typeof value === "string") return value.charCodeAt(0) === NUL ? `\0${value}` : value;
  if (value instanceof Uint8Array) {
    const marked = new Uint8Array(value.length + 2);
    marked[1] = BINARY;
    marked.set(value, 2);
    return marked;
  }
  if (value instanceof Referable) {
    const ref = toWireRef(value, hooks);
    return `\0${KIND_LETTER[ref.kind]}${ref.id}`;
  }
  const type =
    value === null
      ? "null"
      : typeof value === "object"
        ? (value.constructor?.name ?? "object")
        : typeof value;
  throw new EncodeError(
    `kv: the value of ${JSON.stringify(key)} is a ${type}; kv carries only strings, Uint8Arrays and references (flat)`,
  );
}

/** Whether a value goes on the wire unchanged (text that does not start with NUL). */
function isPlainText(value: unknown): boolean {
  return typeof value === "string" && value.charCodeAt(0) !== NUL;
}

function toKvObject(value: unknown, hooks: RefHooks | undefined): Record<string, KvValue | KvValue[]> {
  if (typeof value !== "object" || value === null || !isPlainObject(value)) {
    throw new EncodeError("kv: a message must be a plain object of key → values");
  }
  // Most messages are plain text and are handed to kv as they are; anything else gets a copy.
  let copy: Record<string, KvValue | KvValue[]> | undefined;
  const keys = Object.keys(value);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string;
    const item = value[key];
    let converted: KvValue | KvValue[];
    if (Array.isArray(item)) {
      converted = item.every(isPlainText)
        ? (item as string[])
        : item.map((element: unknown) => toKvValue(element, key, hooks));
    } else {
      converted = isPlainText(item) ? (item as string) : toKvValue(item, key, hooks);
    }
    if (converted !== item && copy === undefined) {
      copy = {};
      for (let j = 0; j < i; j++) setOwn(copy, keys[j] as string, value[keys[j] as string]);
    }
    if (copy !== undefined) setOwn(copy, key, converted);
  }
  return copy ?? (value as Record<string, KvValue | KvValue[]>);
}

function fromKvValue(value: KvValue, hooks: RefHooks | undefined): unknown {
  if (typeof value === "string") {
    if (value.charCodeAt(0) !== NUL) return value;
    const marker = value.charAt(1);
    if (marker === "\0") return value.slice(1);
    if (marker === "b") return utf8Bytes(value.slice(2)); // binary that happened to be UTF-8
    const kind = LETTER_KIND[marker];
    if (kind !== undefined) {
      const digits = value.slice(2);
      if (!DECIMAL.test(digits)) throw new DecodeError(`kv: invalid reference id ${JSON.stringify(digits)}`);
      return fromWireRef(kind, Number(digits), hooks);
    }
    throw new DecodeError(
      `kv: unknown value marker 0x00 0x${value.charCodeAt(1).toString(16).padStart(2, "0")}`,
    );
  }
  // Not UTF-8: only binary ("b") and escaped values can be such.
  if (value[0] !== NUL) return value;
  if (value[1] === NUL) return value.subarray(1);
  if (value[1] === BINARY) return value.subarray(2);
  throw new DecodeError(`kv: unknown value marker 0x00 0x${(value[1] ?? 0).toString(16).padStart(2, "0")}`);
}

function fromKvRecord(record: KvRecord, hooks: RefHooks | undefined): Record<string, unknown[]> {
  for (const key of Object.keys(record)) {
    const values = record[key] as KvValue[];
    for (let i = 0; i < values.length; i++) {
      const value = values[i] as KvValue;
      if (typeof value !== "string" || value.charCodeAt(0) === NUL) {
        (values as unknown[])[i] = fromKvValue(value, hooks);
      }
    }
  }
  return record;
}

/**
 * The kv codec (`application/vnd.beamhub.kv`): Beam's key → values format. It carries flat
 * messages only: an object whose values are strings, Uint8Arrays, references, or arrays of
 * those. Every key decodes to an array of values (a single value comes back as a
 * one-element array); numbers, nested objects and the like are refused with
 * {@link EncodeError}. Keys are in canonical order on the wire.
 */
export const kvCodec: Codec = {
  name: "kv",
  contentType: "application/vnd.beamhub.kv",
  encode(value: unknown, hooks?: RefHooks): Uint8Array {
    try {
      return encodeKv(toKvObject(value, hooks));
    } catch (error) {
      if (error instanceof KvError) throw new EncodeError(error.message, { cause: error });
      throw encodeFailure("kv", error);
    }
  },
  decode(bytes: Uint8Array, hooks?: RefHooks): unknown {
    try {
      return fromKvRecord(decodeKv(bytes), hooks);
    } catch (error) {
      if (error instanceof KvDecodeError)
        throw new DecodeError(error.message, { cause: error, offset: error.offset });
      throw decodeFailure("kv", error);
    }
  },
};
