// Byte/string conversions the kv hot paths need. Node's Buffer methods are native and can be
// called on any Uint8Array, which avoids both per-byte string building in JS and the cost of
// wrapping every input in a Buffer view. This module is the one place that knows about
// `node:buffer`; a browser build would swap it for TextEncoder/TextDecoder equivalents.
import { Buffer, isAscii, isUtf8 } from "node:buffer";

interface NativeStringMethods {
  latin1Slice(this: Uint8Array, start: number, end: number): string;
  utf8Slice(this: Uint8Array, start: number, end: number): string;
  utf8Write(this: Uint8Array, text: string, offset: number, length: number): number;
}

const native = Buffer.prototype as unknown as NativeStringMethods;
const latin1Slice = native.latin1Slice;
const utf8Slice = native.utf8Slice;
const utf8Write = native.utf8Write;

export { isAscii, isUtf8 };

/** Decodes `bytes[start, end)` one byte per character (lossless for any bytes). */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(bytes, start, end);
}

/** Decodes `bytes[start, end)` as UTF-8 (invalid sequences become U+FFFD; validate first). */
export function utf8(bytes: Uint8Array, start: number, end: number): string {
  return utf8Slice.call(bytes, start, end);
}

/** Writes `text` as UTF-8 at `offset`; the caller guarantees room for `3 * text.length` bytes. */
export function writeUtf8(target: Uint8Array, text: string, offset: number): number {
  return utf8Write.call(target, text, offset, target.length - offset);
}

/** True when `bytes[start, end)` is valid UTF-8. */
export function isUtf8Range(bytes: Uint8Array, start: number, end: number): boolean {
  return isUtf8(bytes.subarray(start, end));
}

/** UTF-8 encoding of `text` as a fresh Uint8Array. */
export function utf8Bytes(text: string): Uint8Array {
  const buffer = Buffer.from(text, "utf8");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/** The bytes of a binary string (one byte per character, as made by {@link latin1}). */
export function latin1Bytes(text: string): Uint8Array {
  const buffer = Buffer.from(text, "latin1");
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

// A lone surrogate has no UTF-8 form (an encoder would silently write U+FFFD, so two different
// strings would encode alike). String#isWellFormed (ES2024, in Node 20) finds one natively; in
// a /u regex \p{Surrogate} matches only unpaired halves, as a fallback.
const LONE_SURROGATE = /\p{Surrogate}/u;
const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;

/** True when `text` contains an unpaired surrogate and so cannot round-trip through UTF-8. */
export function hasLoneSurrogate(text: string): boolean {
  return isWellFormed !== undefined ? !isWellFormed.call(text) : LONE_SURROGATE.test(text);
}
