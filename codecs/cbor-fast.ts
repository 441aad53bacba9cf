// The common case of CBOR, without cbor-x's per-call set-up: plain objects with ASCII keys,
// arrays, ASCII strings, numbers, booleans, null, undefined and Uint8Arrays — what almost every
// message of a session is made of. The output is byte for byte what cbor-x writes with the
// options of cbor.ts (test/codecs/cbor-fast.test.ts checks both directions against cbor-x on
// generated values), so a peer cannot tell the two apart:
// - encoding hands any other value (a reference, a Map, a Date, a non-ASCII string, a bigint,
//   a class instance) to cbor-x, whose bytes are copied in place: nothing is encoded twice;
// - decoding gives up, before any side effect, on anything it does not know (a tag such as a
//   reference, a 64-bit or indefinite length, half floats, non-ASCII text, a "__proto__" key,
//   truncated or trailing bytes), and the caller decodes the whole message with cbor-x.
import type { EncodedRegion } from "./reference.js";

/** Nesting deeper than this goes to cbor-x (which treats it as it always did). */
const MAX_DEPTH = 128;
const hasOwn = Object.prototype.hasOwnProperty;

// ---- encoding ---------------------------------------------------------------------------

/** The encoder's own buffer, for messages that have no place to go or do not fit there. */
let own = new Uint8Array(8192);
/** Where the message being encoded goes: `own`, or the caller's buffer from `base` on. */
let out: Uint8Array = own;
let base = 0;
let at = 0;
/** A value the fast path leaves to cbor-x: returns its encoding (valid until the next call). */
let fallback: (value: unknown) => EncodedRegion = () => {
  throw new Error("cbor-fast: no fallback encoder");
};

const region: { bytes: Uint8Array; start: number; end: number } = { bytes: own, start: 0, end: 0 };

/** Sets the encoder for values the fast path does not handle (cbor.ts passes cbor-x's). */
export function setFallbackEncoder(encode: (value: unknown) => EncodedRegion): void {
  fallback = encode;
}

/**
 * Encodes `value` into `target` from `offset` on if it fits before the end of `target`, else
 * into a buffer of its own. Returns where the bytes are (valid until the next call); bytes of
 * `target` past `offset` may have been written either way.
 */
export function encodeFast(value: unknown, target?: Uint8Array, offset = 0): EncodedRegion {
  // A buffer grown for one huge message is not kept for the small ones after it.
  if (own.length > 1024 * 1024) own = new Uint8Array(8192);
  out = target ?? own;
  base = at = target === undefined ? 0 : offset;
  try {
    write(value, 0);
    region.bytes = out;
    region.start = base;
    region.end = at;
    return region;
  } finally {
    out = own; // never write to the caller's buffer outside a call
  }
}

/** Room for `bytes` more; a message that outgrows its buffer moves to a larger one of ours. */
function ensure(bytes: number): void {
  if (at + bytes <= out.length) return;
  const used = at - base;
  const next =
    out !== own && own.length >= used + bytes ? own : new Uint8Array(Math.max(own.length * 2, used + bytes));
  next.set(out.subarray(base, at));
  own = out = next;
  base = 0;
  at = used;
}

function writeU16(value: number): void {
  out[at++] = value >> 8;
  out[at++] = value & 0xff;
}

function writeU32(value: number): void {
  out[at++] = value >>> 24;
  out[at++] = (value >>> 16) & 0xff;
  out[at++] = (value >>> 8) & 0xff;
  out[at++] = value & 0xff;
}

// Doubles are written through these (a DataView per target buffer would cost an allocation).
const float = new Float64Array(1);
const floatBytes = new Uint8Array(float.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function writeFloat64(value: number): void {
  float[0] = value;
  for (let i = 0; i < 8; i++) out[at++] = floatBytes[littleEndian ? 7 - i : i]!;
}

function write(value: unknown, depth: number): void {
  switch (typeof value) {
    case "string":
      return writeString(value);
    case "number":
      return writeNumber(value);
    case "boolean":
      ensure(1);
      out[at++] = value ? 0xf5 : 0xf4;
      return;
    case "undefined":
      ensure(1);
      out[at++] = 0xf7;
      return;
    case "object":
      if (value === null) {
        ensure(1);
        out[at++] = 0xf6;
        return;
      }
      return writeObject(value, depth);
    default:
      return delegate(value);
  }
}

function writeObject(value: object, depth: number): void {
  if (depth > MAX_DEPTH) return delegate(value);
  const constructor = value.constructor;
  if (constructor === Object) {
    const object = value as Record<string, unknown>;
    // cbor-x calls whatever `hasOwnProperty` an object has: one that shadows it is cbor-x's.
    if (object.hasOwnProperty !== hasOwn) return delegate(value);
    // cbor-x's form: a map with a 16-bit count, filled in after the entries (for-in order, own
    // properties). Positions are kept relative to `base`: the message may move to a larger
    // buffer meanwhile.
    ensure(3);
    out[at++] = 0xb9;
    const countAt = at - base;
    at += 2;
    let count = 0;
    for (const key in object) {
      if (hasOwn.call(object, key)) {
        writeString(key);
        write(object[key], depth + 1);
        count++;
      }
    }
    if (count < 0x10000) {
      out[base + countAt] = count >> 8;
      out[base + countAt + 1] = count & 0xff;
    } else {
      // Too many entries for a 16-bit count: widen the header to a 32-bit one, as cbor-x does.
      ensure(2);
      const header = base + countAt;
      out.copyWithin(header + 4, header + 2, at);
      const end = at + 2;
      out[header - 1] = 0xba;
      at = header;
      writeU32(count);
      at = end;
    }
    return;
  }
  if (constructor === Array) {
    const array = value as unknown[];
    const length = array.length;
    writeHeader(0x80, length);
    for (let i = 0; i < length; i++) write(array[i], depth + 1);
    return;
  }
  if (constructor === Uint8Array) {
    const bytes = value as Uint8Array;
    const length = bytes.byteLength;
    writeHeader(0x40, length);
    ensure(length);
    out.set(bytes, at);
    at += length;
    return;
  }
  if (value instanceof PreencodedCbor) {
    // A value encoded once for many messages (`CborEncoded`): its bytes, as they are.
    const bytes = value.bytes;
    ensure(bytes.byteLength);
    out.set(bytes, at);
    at += bytes.byteLength;
    return;
  }
  delegate(value);
}

/**
 * A value that carries its own CBOR encoding, written as those bytes (see `cbor-encoded.ts`);
 * the base class lives here so that the fast path needs no import of the codec that makes them.
 */
export abstract class PreencodedCbor {
  abstract readonly bytes: Uint8Array;
}

/** A major type's head with the shortest argument (cbor-x's arrays, byte strings, text). */
function writeHeader(major: number, length: number): void {
  ensure(5);
  if (length < 0x18) {
    out[at++] = major | length;
  } else if (length < 0x100) {
    out[at++] = major | 0x18;
    out[at++] = length;
  } else if (length < 0x10000) {
    out[at++] = major | 0x19;
    writeU16(length);
  } else {
    out[at++] = major | 0x1a;
    writeU32(length);
  }
}

function writeString(value: string): void {
  const length = value.length;
  const start = at - base;
  writeHeader(0x60, length);
  ensure(length);
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x80) {
      // UTF-8 as cbor-x writes it (it has two ways, by length); let it do so.
      at = base + start;
      delegate(value);
      return;
    }
    out[at + i] = code;
  }
  at += length;
}

/** Numbers exactly as cbor-x writes them (so -0 is 0, and integers from 2^32 on are doubles). */
function writeNumber(value: number): void {
  ensure(9);
  if (value >>> 0 === value) {
    if (value < 0x18) {
      out[at++] = value;
    } else if (value < 0x100) {
      out[at++] = 0x18;
      out[at++] = value;
    } else if (value < 0x10000) {
      out[at++] = 0x19;
      writeU16(value);
    } else {
      out[at++] = 0x1a;
      writeU32(value);
    }
  } else if (value >> 0 === value) {
    if (value >= -0x18) {
      out[at++] = 0x1f - value;
    } else if (value >= -0x100) {
      out[at++] = 0x38;
      out[at++] = ~value;
    } else if (value >= -0x10000) {
      out[at++] = 0x39;
      writeU16(~value);
    } else {
      out[at++] = 0x3a;
      writeU32(~value);
    }
  } else if (value < 0 && value >= -0x100000000 && Math.floor(value) === value) {
    out[at++] = 0x3a;
    writeU32(-1 - value);
  } else {
    out[at++] = 0xfb;
    writeFloat64(value);
  }
}

/** Copies cbor-x's encoding of `value` in place. */
function delegate(value: unknown): void {
  const encoded = fallback(value);
  const length = encoded.end - encoded.start;
  ensure(length);
  out.set(encoded.bytes.subarray(encoded.start, encoded.end), at);
  at += length;
}

// ---- decoding ---------------------------------------------------------------------------

/** What `decodeFast` returns for input it leaves to cbor-x. */
export const NOT_FAST: unique symbol = Symbol("cbor: not the fast subset");
const BAIL = NOT_FAST;

let src: Uint8Array = new Uint8Array(0);
let pos = 0;
let end = 0;
/** The top-level keys whose values `decodeFastKeeping` keeps as bytes, and how it wraps them. */
let keepFields: readonly string[] | undefined;
let keepWrap: ((bytes: Uint8Array, start: number, end: number) => unknown) | undefined;

/**
 * Decodes `bytes[start, end)` — read where it is, no copy or view is made — or returns
 * `NOT_FAST`, having done nothing else, when the input uses more of CBOR than the fast subset
 * or is malformed. Byte strings are copied (slices of a plain Uint8Array `bytes` are plain
 * Uint8Arrays): the result never refers to `bytes`.
 */
export function decodeFast(bytes: Uint8Array, start: number, stop: number): unknown {
  src = bytes;
  pos = start;
  end = stop;
  const value = item(0);
  src = EMPTY; // no reference to the caller's bytes outlives the call
  return pos === end ? value : BAIL;
}

/**
 * `decodeFast`, except that the value of each top-level map key in `fields`, if it is an array
 * or a map, is not decoded: it is checked to be in the forwardable subset (`skip`) and `wrap` gets
 * its bytes (`bytes[from, to)`, to copy: they are the caller's). `NOT_FAST` as `decodeFast`, also when that value is outside
 * the subset.
 */
export function decodeFastKeeping(
  bytes: Uint8Array,
  start: number,
  stop: number,
  fields: readonly string[],
  wrap: (bytes: Uint8Array, from: number, to: number) => unknown,
): unknown {
  keepFields = fields;
  keepWrap = wrap;
  try {
    return decodeFast(bytes, start, stop);
  } finally {
    keepFields = keepWrap = undefined;
  }
}

/**
 * `wrap(bytes, start, stop)` if `bytes[start, stop)` is one array or map of the forwardable
 * subset (`skip`); any other item of the fast subset decoded (`decodeFast`); else `NOT_FAST`.
 */
export function keepFast(
  bytes: Uint8Array,
  start: number,
  stop: number,
  wrap: (bytes: Uint8Array, from: number, to: number) => unknown,
): unknown {
  if (!isContainer(bytes, start, stop)) return decodeFast(bytes, start, stop);
  src = bytes;
  pos = start;
  end = stop;
  const whole = skip(0) && pos === end;
  src = EMPTY;
  return whole ? wrap(bytes, start, stop) : BAIL;
}

/**
 * Whether the item at `bytes[at]` is an array or a map: only those are worth keeping. A lone
 * byte string, text or number decodes to one value that costs no more to make than a copy of
 * its bytes, and encodes back the same.
 */
function isContainer(bytes: Uint8Array, at: number, stop: number): boolean {
  const major = at < stop ? bytes[at]! >> 5 : 0;
  return major === 4 || major === 5;
}

/**
 * Steps over one item at `pos` if it is in the subset a hub may forward without decoding it:
 * what `item` decodes, plus half floats; no tag (a reference is one), no indefinite or 64-bit
 * length, no non-ASCII text, only text map keys — so that what the hub lets through is what its
 * own decode would have accepted, and a peer cannot make a receiver fail on bytes the hub
 * passed. Returns false (with `pos` anywhere) for anything else or for truncated input.
 */
function skip(depth: number): boolean {
  if (pos >= end) return false;
  const initial = src[pos++]!;
  const major = initial >> 5;
  let argument = initial & 0x1f;
  if (major === 7) {
    if (argument >= 0x14 && argument <= 0x17) return true; // false, true, null, undefined
    const size = argument === 0x19 ? 2 : argument === 0x1a ? 4 : argument === 0x1b ? 8 : 0;
    pos += size;
    return size > 0 && pos <= end;
  }
  if (argument >= 0x18) {
    const size = argument === 0x18 ? 1 : argument === 0x19 ? 2 : argument === 0x1a ? 4 : 0;
    if (size === 0 || pos + size > end) return false;
    argument = 0;
    for (let i = 0; i < size; i++) argument = argument * 256 + src[pos + i]!;
    pos += size;
  }
  switch (major) {
    case 0:
    case 1:
      return true;
    case 2:
      if (argument > end - pos) return false;
      pos += argument;
      return true;
    case 3: {
      if (argument > end - pos) return false;
      const stop = pos + argument;
      for (; pos < stop; pos++) if (src[pos]! >= 0x80) return false;
      return true;
    }
    case 4:
      if (argument > end - pos || depth >= MAX_DEPTH) return false;
      for (let i = 0; i < argument; i++) if (!skip(depth + 1)) return false;
      return true;
    case 5:
      if (argument > (end - pos) / 2 || depth >= MAX_DEPTH) return false;
      for (let i = 0; i < argument; i++) {
        if (pos >= end || src[pos]! >> 5 !== 3 || !skip(depth + 1) || !skip(depth + 1)) return false;
      }
      return true;
    default:
      return false; // tags: references, dates, bignums, ...
  }
}

const EMPTY = new Uint8Array(0);
const float32 = new Float32Array(1);
const float32Bytes = new Uint8Array(float32.buffer);

/** The big-endian float of `size` (4 or 8) bytes at `pos`. */
function readFloat(size: 4 | 8): number {
  const bytes = size === 4 ? float32Bytes : floatBytes;
  for (let i = 0; i < size; i++) bytes[littleEndian ? size - 1 - i : i] = src[pos + i]!;
  pos += size;
  return size === 4 ? float32[0]! : float[0]!;
}

function item(depth: number): unknown {
  if (pos >= end) return BAIL;
  const initial = src[pos++]!;
  const major = initial >> 5;
  let argument = initial & 0x1f;
  if (major === 7) {
    switch (argument) {
      case 0x14:
        return false;
      case 0x15:
        return true;
      case 0x16:
        return null;
      case 0x17:
        return undefined;
      case 0x1a:
        return pos + 4 > end ? BAIL : readFloat(4);
      case 0x1b:
        return pos + 8 > end ? BAIL : readFloat(8);
      default:
        return BAIL;
    }
  }
  if (argument >= 0x18) {
    if (argument === 0x18) {
      if (pos >= end) return BAIL;
      argument = src[pos++]!;
    } else if (argument === 0x19) {
      if (pos + 2 > end) return BAIL;
      argument = (src[pos]! << 8) | src[pos + 1]!;
      pos += 2;
    } else if (argument === 0x1a) {
      if (pos + 4 > end) return BAIL;
      argument = ((src[pos]! << 24) | (src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!) >>> 0;
      pos += 4;
    } else {
      return BAIL; // 64-bit arguments (bigints for cbor-x), indefinite lengths, reserved values
    }
  }
  switch (major) {
    case 0:
      return argument;
    case 1:
      return -1 - argument;
    case 2: {
      if (argument > end - pos) return BAIL;
      // TypedArray#slice copies (Buffer#slice would make a view).
      const bytes = Uint8Array.prototype.slice.call(src, pos, pos + argument);
      pos += argument;
      return bytes;
    }
    case 3:
      return text(argument);
    case 4: {
      if (argument > end - pos || depth >= MAX_DEPTH) return BAIL;
      const array = new Array<unknown>(argument);
      for (let i = 0; i < argument; i++) {
        const value = item(depth + 1);
        if (value === BAIL) return BAIL;
        array[i] = value;
      }
      return array;
    }
    case 5: {
      if (argument > (end - pos) / 2 || depth >= MAX_DEPTH) return BAIL;
      const object: Record<string, unknown> = {};
      for (let i = 0; i < argument; i++) {
        if (pos >= end || src[pos]! >> 5 !== 3) return BAIL; // only text keys
        const key = item(depth + 1);
        if (key === BAIL || key === "__proto__") return BAIL;
        if (depth === 0 && keepFields?.includes(key as string) === true && isContainer(src, pos, end)) {
          // Kept as its bytes (decodeFastKeeping): checked, not decoded.
          const from = pos;
          if (!skip(depth + 1)) return BAIL;
          object[key as string] = keepWrap!(src, from, pos);
          continue;
        }
        const value = item(depth + 1);
        if (value === BAIL) return BAIL;
        object[key as string] = value;
      }
      return object;
    }
    default:
      return BAIL; // tags: references, dates, bignums, ...
  }
}

/** Short ASCII strings seen before, by length and bytes: keys and common values repeat. */
const SHORT_MAX = 8;
const cacheHigh = new Int32Array(256);
const cacheLow = new Int32Array(256);
const cacheLength = new Int8Array(256).fill(-1);
const cacheString: string[] = new Array<string>(256).fill("");

function text(length: number): unknown {
  if (length > end - pos) return BAIL;
  if (length <= SHORT_MAX) {
    let high = 0;
    let low = 0;
    for (let i = 0; i < length; i++) {
      const byte = src[pos + i]!;
      if (i < 4) high = (high << 8) | byte;
      else low = (low << 8) | byte;
    }
    if (((high | low) & 0x80808080) !== 0) return BAIL;
    const slot = (high ^ (high >>> 15) ^ low ^ (low >>> 13) ^ length) & 0xff;
    if (cacheLength[slot] === length && cacheHigh[slot] === high && cacheLow[slot] === low) {
      pos += length;
      return cacheString[slot];
    }
    const string = ascii(length);
    if (string !== BAIL) {
      cacheLength[slot] = length;
      cacheHigh[slot] = high;
      cacheLow[slot] = low;
      cacheString[slot] = string as string;
    }
    return string;
  }
  return ascii(length);
}

const codes: number[] = [];
const latin1 = new TextDecoder("latin1");

function ascii(length: number): unknown {
  if (length <= 64) {
    codes.length = length;
    for (let i = 0; i < length; i++) {
      const byte = src[pos + i]!;
      if (byte >= 0x80) return BAIL;
      codes[i] = byte;
    }
    pos += length;
    return String.fromCharCode.apply(null, codes);
  }
  for (let i = 0; i < length; i++) if (src[pos + i]! >= 0x80) return BAIL;
  // For ASCII bytes every single-byte decoder gives the same string.
  const string = latin1.decode(src.subarray(pos, pos + length));
  pos += length;
  return string;
}
