// The browser's version of kv/bytes.ts (which says so: "a browser build would swap it for
// TextEncoder/TextDecoder equivalents"). browser/build.ts resolves every import of
// kv/bytes.js to this file. Same exports, same semantics, no `node:buffer`.

const encoder = new TextEncoder();
const lenient = new TextDecoder("utf-8");
const strict = new TextDecoder("utf-8", { fatal: true });

/** True when every byte is below 0x80. */
export function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! >= 0x80) return false;
  return true;
}

/** True when `bytes` are valid UTF-8. */
export function isUtf8(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/** Decodes `bytes[start, end)` one byte per character (lossless for any bytes). */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  let text = "";
  for (let i = start; i < end; i += 0x8000) {
    text += String.fromCharCode(...bytes.subarray(i, Math.min(end, i + 0x8000)));
  }
  return text;
}

/** Decodes `bytes[start, end)` as UTF-8 (invalid sequences become U+FFFD; validate first). */
export function utf8(bytes: Uint8Array, start: number, end: number): string {
  return lenient.decode(bytes.subarray(start, end));
}

/** Writes `text` as UTF-8 at `offset`; the caller guarantees room for `3 * text.length` bytes. */
export function writeUtf8(target: Uint8Array, text: string, offset: number): number {
  return encoder.encodeInto(text, target.subarray(offset)).written;
}

/** True when `bytes[start, end)` is valid UTF-8. */
export function isUtf8Range(bytes: Uint8Array, start: number, end: number): boolean {
  return isUtf8(bytes.subarray(start, end));
}

/** UTF-8 encoding of `text` as a fresh Uint8Array. */
export function utf8Bytes(text: string): Uint8Array {
  return encoder.encode(text);
}

/** The bytes of a binary string (one byte per character, as made by `latin1`). */
export function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i) & 0xff;
  return bytes;
}

const isWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed;
const LONE_SURROGATE = /\p{Surrogate}/u;

/** True when `text` contains an unpaired surrogate and so cannot round-trip through UTF-8. */
export function hasLoneSurrogate(text: string): boolean {
  return isWellFormed !== undefined ? !isWellFormed.call(text) : LONE_SURROGATE.test(text);
}
