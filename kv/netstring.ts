// Netstrings (https://cr.yp.to/proto/netstrings.txt): `<length>:<bytes>,` with the length in
// decimal ASCII. kv is built from them, and so is the record framing of kv log files.
import { KvDecodeError } from "./errors.js";

/** ASCII `:` — ends a netstring's length. */
export const COLON = 0x3a;
/** ASCII `,` — ends a netstring's content. */
export const COMMA = 0x2c;
const ZERO = 0x30;

/**
 * The largest netstring length a decoder accepts unless told otherwise: 16 MiB. Lengths are
 * checked as their digits are read, so a hostile length can neither make a reader wait for
 * (or allocate) gigabytes nor keep it parsing an endless run of digits.
 */
export const DEFAULT_MAX_LENGTH = 16 * 1024 * 1024;

/** Number of decimal digits of a non-negative integer (1 for 0). */
export function digitCount(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : n < 100000 ? 5 : manyDigits(n);
}

function manyDigits(n: number): number {
  let digits = 6;
  for (let limit = 1000000; n >= limit; limit *= 10) digits++;
  return digits;
}

/** Writes `n` as exactly `digits` decimal digits ending just before `at + digits`. */
export function writeDigits(target: Uint8Array, at: number, n: number, digits: number): void {
  if (digits === 1) {
    target[at] = ZERO + n;
    return;
  }
  let end = at + digits;
  if (n <= 0x7fffffff) {
    // Small-integer arithmetic (much faster than Math.floor); lengths almost always fit.
    while (end > at) {
      const quotient = (n / 10) | 0;
      target[--end] = ZERO + n - quotient * 10;
      n = quotient;
    }
    return;
  }
  while (end > at) {
    const quotient = Math.floor(n / 10);
    target[--end] = ZERO + n - quotient * 10;
    n = quotient;
  }
}

/**
 * Reads the `<digits>:` prefix of the netstring that starts at `pos` and must fit before `end`.
 * Returns the declared length; the content starts at `pos + digitCount(length) + 1` because
 * leading zeros are refused (so every length has exactly one spelling, which also keeps
 * encodings canonical). Throws {@link KvDecodeError} for anything else; never reads past `end`,
 * and gives up as soon as the digits exceed `max`.
 *
 * @param what names the netstring in error messages ("key", "value", ...).
 */
export function readLength(bytes: Uint8Array, pos: number, end: number, max: number, what: string): number {
  // The hot path is kept tiny so that it inlines; lengthError works out what exactly is wrong.
  let p = pos;
  let n = 0;
  while (p < end && n <= max) {
    const digit = (bytes[p] as number) - ZERO;
    if (digit < 0 || digit > 9) break;
    n = n * 10 + digit;
    p++;
  }
  if (p < end && bytes[p] === COLON && p > pos && n <= max && (p === pos + 1 || bytes[pos] !== ZERO))
    return n;
  throw lengthError(bytes, pos, end, max, what);
}

function lengthError(bytes: Uint8Array, pos: number, end: number, max: number, what: string): KvDecodeError {
  if (pos >= end)
    return new KvDecodeError("EKV_TRUNCATED", `kv: input ends where a ${what} should start`, pos);
  let n = 0;
  for (let p = pos; p < end; p++) {
    const c = bytes[p] as number;
    if (c === COLON && p > pos) {
      // Not reached (readLength accepts such a prefix), but keep every path an error.
      return new KvDecodeError("EKV_DIGIT", `kv: invalid ${what} length`, pos);
    }
    const digit = c - ZERO;
    if (digit < 0 || digit > 9) {
      const expected = p === pos ? "a digit" : n === 0 ? "':'" : "a digit or ':'";
      const found = c.toString(16).padStart(2, "0");
      return new KvDecodeError(
        "EKV_DIGIT",
        `kv: expected ${expected} in ${what} length, found 0x${found}`,
        p,
      );
    }
    if (p === pos + 1 && n === 0) {
      return new KvDecodeError("EKV_LEADING_ZERO", `kv: ${what} length has a leading zero`, pos);
    }
    n = n * 10 + digit;
    if (n > max) {
      return new KvDecodeError("EKV_TOO_LONG", `kv: ${what} length exceeds the maximum of ${max} bytes`, pos);
    }
  }
  return new KvDecodeError("EKV_TRUNCATED", `kv: input ends inside a ${what} length`, pos);
}

/**
 * Checks that a netstring whose content is `[start, start + length)` fits before `end` and is
 * closed by a comma. `pos` is where the netstring began (reported on truncation).
 */
export function checkContent(
  bytes: Uint8Array,
  pos: number,
  start: number,
  length: number,
  end: number,
  what: string,
): void {
  const close = start + length;
  if (close < end && bytes[close] === COMMA) return;
  throw contentError(bytes, pos, start, length, end, what);
}

function contentError(
  bytes: Uint8Array,
  pos: number,
  start: number,
  length: number,
  end: number,
  what: string,
): KvDecodeError {
  const close = start + length;
  if (close >= end) {
    const left = Math.max(0, end - start);
    return new KvDecodeError(
      "EKV_TRUNCATED",
      `kv: ${what} declares ${length} bytes and its closing ',' but only ${left} bytes remain`,
      pos,
    );
  }
  const found = (bytes[close] as number).toString(16).padStart(2, "0");
  return new KvDecodeError("EKV_COMMA", `kv: expected ',' after ${what}, found 0x${found}`, close);
}

/** Encodes `content` as one netstring. */
export function encodeNetstring(content: Uint8Array): Uint8Array {
  const digits = digitCount(content.length);
  const out = new Uint8Array(digits + content.length + 2);
  writeDigits(out, 0, content.length, digits);
  out[digits] = COLON;
  out.set(content, digits + 1);
  out[out.length - 1] = COMMA;
  return out;
}
