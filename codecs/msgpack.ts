// MessagePack through msgpackr. A reference is extension type 0x68 ("h") with a 5-byte payload:
// the kind code (0 channel, 1 stream, 2 fd), then the id as a big-endian uint32.
// Ref("channel", 42) is c7 05 68 00 00 00 00 2a. 64-bit integers decode as bigint; larger bigints use msgpackr's
// extension 0x42.
import { addExtension, C1, Packr } from "msgpackr";
import { DecodeError, decodeFailure, encodeFailure } from "./errors.js";
import { fromWireRef, Referable, refKindOfCode, REF_KIND_CODES, toWireRef } from "./reference.js";
import type { Codec, RefHooks } from "./reference.js";
import { plainView } from "./own.js";

/** The MessagePack extension type of a reference. */
export const MSGPACK_REF_TYPE = 0x68;

// msgpackr extensions are process-wide; see cbor.ts for why the hooks live here.
let encodeHooks: RefHooks | undefined;
let decodeHooks: RefHooks | undefined;

type ExtensionClass = new (...args: unknown[]) => Referable;

addExtension({
  Class: Referable as unknown as ExtensionClass,
  type: MSGPACK_REF_TYPE,
  pack(value: Referable): Uint8Array {
    const ref = toWireRef(value, encodeHooks);
    const payload = new Uint8Array(5);
    payload[0] = REF_KIND_CODES[ref.kind];
    new DataView(payload.buffer).setUint32(1, ref.id);
    return payload;
  },
  unpack(payload: Uint8Array): unknown {
    if (payload.length !== 5) throw new DecodeError("msgpack: a reference must have a 5-byte payload");
    const id = new DataView(payload.buffer, payload.byteOffset, 5).getUint32(1);
    return fromWireRef(refKindOfCode(payload[0]), id, decodeHooks);
  },
});

const packr = new Packr({
  useRecords: false, // records are a msgpackr extension other decoders do not know
  mapsAsObjects: true,
  variableMapSize: true, // shortest map headers, as other encoders write them
  int64AsType: "bigint", // int64/uint64 values keep their precision
  useBigIntExtension: true, // larger bigints, rather than an error
  copyBuffers: true, // decoded bin values must not alias a receive buffer that gets reused
});

const C1_BYTE = 0xc1;

/** Whether msgpackr's placeholder for the never-used byte 0xc1 occurs in a decoded value. */
function containsC1(value: unknown, depth: number): boolean {
  if (value === C1) return true;
  if (typeof value !== "object" || value === null || depth > 1000) return false;
  if (Array.isArray(value)) return value.some((item) => containsC1(item, depth + 1));
  if (value instanceof Map)
    return [...value].some(([k, v]) => containsC1(k, depth + 1) || containsC1(v, depth + 1));
  if (ArrayBuffer.isView(value)) return false;
  return Object.values(value).some((item) => containsC1(item, depth + 1));
}

/**
 * The MessagePack codec (`application/vnd.msgpack`), through msgpackr. Round-trips plain
 * objects, arrays, strings, numbers, booleans, null, undefined, Uint8Array, bigints and Date
 * (timestamp extension). Keys named `__proto__` come back as `__proto_`.
 */
export const msgpackCodec: Codec = {
  name: "msgpack",
  contentType: "application/vnd.msgpack",
  encode(value: unknown, hooks?: RefHooks): Uint8Array {
    const previous = encodeHooks;
    encodeHooks = hooks;
    try {
      return packr.pack(value);
    } catch (error) {
      throw encodeFailure("msgpack", error);
    } finally {
      encodeHooks = previous;
    }
  },
  decode(bytes: Uint8Array, hooks?: RefHooks): unknown {
    const previous = decodeHooks;
    decodeHooks = hooks;
    let value: unknown;
    try {
      value = packr.unpack(plainView(bytes));
    } catch (error) {
      throw decodeFailure("msgpack", error);
    } finally {
      decodeHooks = previous;
    }
    // msgpackr returns a placeholder object for 0xc1 instead of failing; only look for it when
    // the byte occurs at all (it may also just be data inside a string).
    if (bytes.includes(C1_BYTE) && containsC1(value, 0)) {
      throw new DecodeError("msgpack: malformed input: the never-used byte 0xc1");
    }
    return value;
  },
};
