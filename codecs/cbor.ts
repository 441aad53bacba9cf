// CBOR (RFC 8949) through cbor-x. A reference is tag 40601 (0x9E99, in the first-come
// first-served range) around the array [kind code, id], as the session protocol (PROTOCOL.md)
// specifies: Ref("channel", 5) is d9 9e99 82 00 05. Byte strings are plain major type 2 (no
// typed-array tag); bigints use 64-bit integers or, beyond that, the bignum tags 2 and 3.
import { addExtension, Encoder } from "cbor-x";
import { DecodeError, decodeFailure, encodeFailure } from "./errors.js";
import { plainView } from "./own.js";
import { fromWireRef, Referable, refKindOfCode, REF_KIND_CODES, toWireRef } from "./reference.js";
import type { Codec, RefHooks } from "./reference.js";

/** The CBOR tag of a reference. */
export const CBOR_REF_TAG = 40601;

// cbor-x extensions are process-wide and matched by class; encode and decode are synchronous,
// so the hooks of the call in progress are kept here for the extension to find.
let encodeHooks: RefHooks | undefined;
let decodeHooks: RefHooks | undefined;

type ExtensionClass = new (...args: unknown[]) => Referable;

addExtension<Referable, unknown>({
  Class: Referable as unknown as ExtensionClass,
  tag: CBOR_REF_TAG,
  encode(value: Referable, encode: (data: unknown) => Uint8Array): Uint8Array {
    const ref = toWireRef(value, encodeHooks);
    return encode([REF_KIND_CODES[ref.kind], ref.id]);
  },
  decode(item: unknown): Referable {
    if (!Array.isArray(item) || item.length !== 2)
      throw new DecodeError("cbor: a reference must be [kind, id]");
    return fromWireRef(refKindOfCode(item[0]), item[1], decodeHooks) as Referable;
  },
});

const cbor = new Encoder({
  useRecords: false, // records are a cbor-x extension other CBOR decoders do not know
  tagUint8Array: false, // a Uint8Array is a plain byte string
  copyBuffers: true, // decoded byte strings must not alias a receive buffer that gets reused
  mapsAsObjects: true,
  // Map headers stay cbor-x's fixed 3-byte form (the byte-exact vectors of PROTOCOL.md were
  // written with it); decoders accept any length encoding.
});

/**
 * The CBOR codec (`application/cbor`), through cbor-x. Round-trips plain objects, arrays,
 * strings, numbers (including NaN, ±Infinity and -0), booleans, null, undefined, Uint8Array,
 * bigints of any size, Map, Set and Date. Keys named `__proto__` come back as `__proto_`
 * (cbor-x's guard against prototype pollution).
 */
export const cborCodec: Codec = {
  name: "cbor",
  contentType: "application/cbor",
  encode(value: unknown, hooks?: RefHooks): Uint8Array {
    const previous = encodeHooks;
    encodeHooks = hooks;
    try {
      return cbor.encode(value);
    } catch (error) {
      throw encodeFailure("cbor", error);
    } finally {
      encodeHooks = previous;
    }
  },
  decode(bytes: Uint8Array, hooks?: RefHooks): unknown {
    const previous = decodeHooks;
    decodeHooks = hooks;
    try {
      return cbor.decode(plainView(bytes));
    } catch (error) {
      throw decodeFailure("cbor", error);
    } finally {
      decodeHooks = previous;
    }
  },
};
