import { isAscii, isUtf8, isUtf8Range, latin1, utf8 } from "./bytes.js";
import { KvDecodeError } from "./errors.js";
import { checkContent, DEFAULT_MAX_LENGTH, digitCount, readLength } from "./netstring.js";
import { compareText } from "./order.js";
import type { KvDecodeOptions, KvRecord, KvValue } from "./types.js";

const HEADER = [0x30, 0x30, 0x30, 0x3b] as const;

/** Checks the `000;` header; the first entry starts at byte 4. */
export function checkHeader(bytes: Uint8Array): void {
  for (let i = 0; i < 4; i++) {
    if (i >= bytes.length)
      throw new KvDecodeError("EKV_HEADER", "kv: input ends inside the '000;' header", i);
    if (bytes[i] !== HEADER[i])
      throw new KvDecodeError("EKV_HEADER", "kv: message does not start with '000;'", i);
  }
}

// How ranges of a non-ASCII input become values. A netstring's content is delimited by ASCII
// bytes (':' and ','), which never occur inside a multi-byte UTF-8 sequence, so if the whole
// input is valid UTF-8 then so is every key and value in it and none needs checking.
let source: Uint8Array = new Uint8Array(0);
let allUtf8 = false;

/** Prepares {@link segment} and {@link textSegment} for ranges of `bytes`. */
export function setSource(bytes: Uint8Array): void {
  source = bytes;
  allUtf8 = isUtf8(bytes);
}

/** Forgets the current input (so it is not kept alive). */
export function clearSource(): void {
  source = new Uint8Array(0);
}

/** The range as a string if it is valid UTF-8, else as a copy of its bytes. */
export function segment(start: number, end: number): KvValue {
  if (allUtf8 || isUtf8Range(source, start, end)) return utf8(source, start, end);
  return source.slice(start, end);
}

/** The range as a string, or undefined if it is not valid UTF-8. */
export function textSegment(start: number, end: number): string | undefined {
  if (allUtf8 || isUtf8Range(source, start, end)) return utf8(source, start, end);
  return undefined;
}

/**
 * Decodes a kv message into a plain object: key → list of values, each value a string when its
 * bytes are valid UTF-8 and a Uint8Array (a copy) otherwise. Keys must be UTF-8; use
 * {@link KvMessage.decode} for messages with binary keys.
 *
 * Any order of keys is accepted unless `options.canonical` is set; duplicate keys never are.
 *
 * @throws {KvDecodeError} with the byte offset of the problem (see its codes).
 */
export function decodeKv(bytes: Uint8Array, options?: KvDecodeOptions): KvRecord {
  const max = options?.maxLength ?? DEFAULT_MAX_LENGTH;
  const canonical = options?.canonical === true;
  const end = bytes.length;
  checkHeader(bytes);
  // Valid UTF-8 input (the common case) becomes one string, decoded by a single native call,
  // and keys and values are cut out of it with String#slice. Byte offsets map to string
  // offsets by subtracting `extra`, the number of bytes so far that did not start a UTF-16
  // code unit (only content bytes can be non-ASCII, so it is counted over contents only).
  const ascii = isAscii(bytes);
  const whole = ascii || isUtf8(bytes);
  const text = ascii ? latin1(bytes, 0, end) : whole ? utf8(bytes, 0, end) : "";
  if (!whole) setSource(bytes);
  let extra = 0;
  const out: KvRecord = {};
  let ordered = true;
  let previous = "";
  let pos = 4;
  let ordinal = 0;
  try {
    while (pos < end) {
      const keyLength = readLength(bytes, pos, end, max, "key");
      const keyStart = pos + digitCount(keyLength) + 1;
      checkContent(bytes, pos, keyStart, keyLength, end, "key");
      const keyEnd = keyStart + keyLength;
      let key: string | undefined;
      if (whole) {
        const from = keyStart - extra;
        if (!ascii) extra += extraBytes(bytes, keyStart, keyEnd);
        const length = keyEnd - extra - from;
        // Reuse the key string of the previous message at this position when it matches: a
        // string V8 has already made a property name makes `out[key] = ...` far cheaper than a
        // fresh one, which must first be looked up in its string table.
        const known = recentKeys[ordinal];
        if (known !== undefined && known.length === length && text.startsWith(known, from)) key = known;
        else {
          key = text.slice(from, from + length);
          if (ordinal < RECENT_KEYS) recentKeys[ordinal] = key;
        }
        ordinal++;
      } else {
        key = textSegment(keyStart, keyEnd);
        if (key === undefined) throw new KvDecodeError("EKV_UTF8", "kv: key is not valid UTF-8", keyStart);
      }

      const groupPos = keyEnd + 1;
      const groupLength = readLength(bytes, groupPos, end, max, "value list");
      const groupStart = groupPos + digitCount(groupLength) + 1;
      checkContent(bytes, groupPos, groupStart, groupLength, end, "value list");
      const groupEnd = groupStart + groupLength;
      const list: KvValue[] = [];
      let p = groupStart;
      while (p < groupEnd) {
        const length = readLength(bytes, p, groupEnd, max, "value");
        const start = p + digitCount(length) + 1;
        checkContent(bytes, p, start, length, groupEnd, "value");
        const stop = start + length;
        if (ascii) list.push(text.slice(start, stop));
        else if (whole) {
          const from = start - extra;
          extra += extraBytes(bytes, start, stop);
          list.push(text.slice(from, stop - extra));
        } else list.push(segment(start, stop));
        p = stop + 1;
      }

      // While keys ascend there can be no duplicate; after the first step back, look them up.
      if (pos > 4 && (canonical || !ordered || key <= previous)) {
        checkOrder(out, key, previous, canonical, pos);
        ordered = false;
      }
      previous = key;
      if (key === "__proto__") {
        // A plain assignment would replace the object's prototype instead of adding a key.
        Object.defineProperty(out, key, {
          value: list,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else {
        out[key] = list;
      }
      pos = groupEnd + 1;
    }
  } finally {
    if (!whole) clearSource();
  }
  return out;
}

/**
 * The number of bytes in `bytes[start, end)` (valid UTF-8) that do not begin a UTF-16 code
 * unit: continuation bytes, less one per 4-byte sequence (which makes two units).
 */
function extraBytes(bytes: Uint8Array, start: number, end: number): number {
  let extra = 0;
  for (let i = start; i < end; i++) {
    const b = bytes[i] as number;
    if (b >= 0x80) {
      if (b < 0xc0) extra++;
      else if (b >= 0xf0) extra--;
    }
  }
  return extra;
}

/** The keys of the last messages decoded, by position (see decodeKv). */
const recentKeys: string[] = [];
const RECENT_KEYS = 64;

function checkOrder(out: KvRecord, key: string, previous: string, canonical: boolean, at: number): void {
  if (Object.hasOwn(out, key)) throw new KvDecodeError("EKV_DUPLICATE_KEY", "kv: duplicate key", at);
  if (canonical && compareText(previous, key) >= 0) {
    throw new KvDecodeError("EKV_KEY_ORDER", "kv: keys are not in canonical order", at);
  }
}
