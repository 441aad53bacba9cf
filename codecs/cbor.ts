// CBOR (RFC 8949) through cbor-x. A reference is tag 40601 (0x9E99, in the first-come
// first-served range) around the array [kind code, id], as the session protocol (PROTOCOL.md)
// specifies: Ref("channel", 5) is d9 9e99 82 00 05. Byte strings are plain major type 2 (no
// typed-array tag); bigints use 64-bit integers or, beyond that, the bignum tags 2 and 3.
import { addExtension, Encoder } from "cbor-x";
import {
  decodeFast,
  decodeFastKeeping,
  encodeFast,
  keepFast,
  NOT_FAST,
  PreencodedCbor,
  setFallbackEncoder,
} from "./cbor-fast.js";
import { DecodeError, decodeFailure, encodeFailure } from "./errors.js";
import { copyBytes, plainView } from "./own.js";
import { fromWireRef, Referable, refKindOfCode, REF_KIND_CODES, toWireRef } from "./reference.js";
import type { Codec, EncodedRegion, RefHooks } from "./reference.js";

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

// cbor-x's encode modes (encode.js of the pinned 1.6.9; the typings leave the argument out):
// REUSE returns its whole buffer with `start`/`end` set instead of a new view, RESET lets the
// next encode write over this one. Together, a transient encode allocates nothing: cbor-x keeps
// writing at the same place of the same buffer.
const REUSE_BUFFER_MODE = 512;
const RESET_BUFFER_MODE = 1024;
const encodeInPlace = cbor.encode.bind(cbor) as unknown as (
  value: unknown,
  mode: number,
) => Uint8Array & { start: number; end: number };

/** What cbor-x's in-place encode returns: one object, updated by every call. */
const region: { bytes: Uint8Array; start: number; end: number } = {
  bytes: new Uint8Array(0),
  start: 0,
  end: 0,
};

/** cbor-x's encoding of `value` in its own buffer, for what the fast path leaves to it. */
function encodeWithCborX(value: unknown): EncodedRegion {
  const target = encodeInPlace(value, REUSE_BUFFER_MODE | RESET_BUFFER_MODE);
  region.bytes = target;
  region.start = target.start;
  region.end = target.end;
  return region;
}
setFallbackEncoder(encodeWithCborX);

/**
 * Messages the fast path leaves to cbor-x are, up to this size, decoded from a copy in
 * `scratch`: copying a few hundred bytes costs less than the view and the DataView cbor-x would
 * otherwise make of every message. The decoder copies every byte string it returns
 * (`copyBuffers`), so nothing refers to `scratch`.
 */
const SCRATCH_SIZE = 4096;
const scratch = new Uint8Array(SCRATCH_SIZE);
/** True while `scratch` is being decoded (a nested decode must not overwrite it). */
let scratchInUse = false;
/** cbor-x's decode with its `end` argument (left out of the typings): decodes `bytes[0, end)`. */
const decodeUpTo = cbor.decode.bind(cbor) as (bytes: Uint8Array, end: number) => unknown;

/**
 * A value a hub received as CBOR and passes on without decoding it (`Codec.decodeKeeping`): the
 * CBOR encoders write `bytes` where the value goes, byte for byte as it came. It holds no
 * reference (the check that kept it refuses tags), so it is plain data wherever it travels.
 * `decoded()` gives the value, for whoever must look into it (an in-process handler,
 * middleware, a session on another codec); `toJSON` gives it too.
 *
 * @internal
 */
export class CborKept extends PreencodedCbor {
  #value: unknown = NOT_FAST;

  /** `bytes` are the kept value's own (a copy), never a view of a receive buffer. */
  constructor(readonly bytes: Uint8Array) {
    super();
  }

  /** The value these bytes encode (decoded on first use). */
  decoded(): unknown {
    if (this.#value === NOT_FAST) this.#value = cborCodec.decodeRegion!(this.bytes, 0, this.bytes.byteLength);
    return this.#value;
  }

  toJSON(): unknown {
    return this.decoded();
  }
}

/**
 * Kept bytes are copied, not viewed: a view would keep a whole socket read alive for as long as
 * the call waits. Up to `ON_HEAP` bytes a copy of their own is cheap (V8 keeps such a typed
 * array in its heap); a larger one would cost ~300 ns to make (its store is allocated outside
 * the heap: measured 2026-12-06, 66 bytes), so up to `POOLED` bytes they are copied into a
 * shared slab instead (~80 ns), as Node pools small Buffers. A slab lives while any of its
 * values does: at most `SLAB` bytes per kept value, like a pooled Buffer.
 */
const ON_HEAP = 64;
const POOLED = 2048;
const SLAB = 8192;
let slab = new Uint8Array(SLAB);
let slabUsed = 0;

/** Keeps `bytes[from, to)` as a `CborKept` of a copy (a copy costs less than a decode). */
function keep(bytes: Uint8Array, from: number, to: number): CborKept {
  const length = to - from;
  if (length <= ON_HEAP || length > POOLED) {
    return new CborKept(Uint8Array.prototype.slice.call(bytes, from, to));
  }
  if (slabUsed + length > SLAB) {
    slab = new Uint8Array(SLAB);
    slabUsed = 0;
  }
  copyBytes(bytes, from, length, slab, slabUsed);
  const copy = new Uint8Array(slab.buffer, slabUsed, length);
  slabUsed += length;
  return new CborKept(copy);
}

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
  encodeTransient(value: unknown, hooks?: RefHooks, target?: Uint8Array, offset?: number): EncodedRegion {
    const previous = encodeHooks;
    encodeHooks = hooks;
    try {
      return encodeFast(value, target, offset);
    } catch (error) {
      throw encodeFailure("cbor", error);
    } finally {
      encodeHooks = previous;
    }
  },
  decodeRegion(bytes: Uint8Array, start: number, end: number, hooks?: RefHooks): unknown {
    // The fast subset is read in place, with no copy at all; it calls no hooks (it leaves any
    // reference to cbor-x, before doing anything).
    const source = plainView(bytes);
    const value = decodeFast(source, start, end);
    if (value !== NOT_FAST) return value;
    const length = end - start;
    if (length > SCRATCH_SIZE || scratchInUse) {
      return cborCodec.decode(source.subarray(start, end), hooks);
    }
    copyBytes(source, start, length, scratch, 0);
    const previous = decodeHooks;
    decodeHooks = hooks;
    scratchInUse = true;
    try {
      return decodeUpTo(scratch, length);
    } catch (error) {
      throw decodeFailure("cbor", error);
    } finally {
      scratchInUse = false;
      decodeHooks = previous;
    }
  },
  decodeKeeping(
    bytes: Uint8Array,
    start: number,
    end: number,
    fields: readonly string[] | undefined,
    hooks?: RefHooks,
  ): unknown {
    const source = plainView(bytes);
    const value =
      fields === undefined
        ? keepFast(source, start, end, keep)
        : decodeFastKeeping(source, start, end, fields, keep);
    return value !== NOT_FAST ? value : cborCodec.decodeRegion!(source, start, end, hooks);
  },
};
