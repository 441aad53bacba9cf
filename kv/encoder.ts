// The kv byte writer. Small typed arrays are surprisingly expensive in V8 (a fresh
// `new Uint8Array(200)` costs about a microsecond here, more than encoding the message), so
// encodings are written into a shared chunk and handed out as views of it, the way Node's own
// Buffer pool works. Large outputs are copied out so they never pin a chunk.
//
// Writers take the target and position and return the new position (rather than keeping them
// in module state) so that the JIT can keep both in registers across a message.
import { KvError } from "./errors.js";
import { hasLoneSurrogate, writeUtf8 } from "./bytes.js";
import { COLON, COMMA, digitCount, writeDigits } from "./netstring.js";

const CHUNK_SIZE = 16 * 1024;
/** Outputs up to this size are views into the shared chunk; larger ones get their own memory. */
const VIEW_LIMIT = 2 * 1024;
/** A new encoding starts in a fresh chunk when fewer bytes than this are left in the current one. */
const MIN_ROOM = 512;
/** Text up to this length is copied by a JS loop; longer text by a native call. */
const SHORT_TEXT = 64;
/** Room a netstring needs beyond its content: up to 16 length digits, `:` and `,`. */
export const NETSTRING_OVERHEAD = 18;

let chunk: Uint8Array = new Uint8Array(CHUNK_SIZE);
let used = 0; // bytes of `chunk` already handed out
let target = chunk; // the buffer of the encoding in progress
let start = 0; // where the encoding in progress starts in `target`
let busy = false;

/**
 * Starts an encoding and writes the 4-byte header `000;`; returns the position after it. The
 * buffer is {@link current}. Must be paired with {@link finish} or {@link abort}.
 */
export function begin(): number {
  if (busy) {
    // Only reachable if a getter on the input re-enters the encoder while it is writing.
    throw new KvError("EKV_REENTRANT", "kv: the encoder was re-entered while encoding");
  }
  busy = true;
  let at = (used + 7) & ~7;
  if (at + MIN_ROOM > chunk.length) {
    chunk = new Uint8Array(CHUNK_SIZE);
    used = 0;
    at = 0;
  }
  target = chunk;
  start = at;
  chunk[at] = 0x30;
  chunk[at + 1] = 0x30;
  chunk[at + 2] = 0x30;
  chunk[at + 3] = 0x3b;
  return at + 4;
}

/** The buffer of the encoding in progress. */
export function current(): Uint8Array {
  return target;
}

/**
 * Makes room for `room` more bytes after `pos` and returns the position to continue at: the
 * same in the same buffer, or, when the encoding had to move to a larger buffer (a fresh chunk,
 * or one of its own for a large message), the matching position there; {@link current} is then
 * that buffer. Callers ask, before each key, for an upper bound of what the key and its values
 * can take (3 bytes per UTF-16 unit of text, plus {@link NETSTRING_OVERHEAD} per netstring),
 * so writers never check bounds themselves, and hold no other positions across the call.
 */
export function ensure(buffer: Uint8Array, pos: number, room: number): number {
  if (pos + room <= buffer.length) return pos;
  const length = pos - start;
  const needed = length + room;
  let bigger: Uint8Array;
  if (needed <= CHUNK_SIZE / 2) {
    bigger = chunk = new Uint8Array(CHUNK_SIZE);
    used = 0;
  } else {
    bigger = new Uint8Array(needed + (needed >> 1));
  }
  bigger.set(buffer.subarray(start, pos));
  target = bigger;
  start = 0;
  return length;
}

/** Ends the encoding, whose last byte is before `pos`, and returns its bytes. */
export function finish(buffer: Uint8Array, pos: number): Uint8Array {
  busy = false;
  if (pos > buffer.length) {
    // Only possible if the input changed between sizing and writing (a getter or a proxy).
    throw new KvError("EKV_VALUE", "kv: the message changed while it was being encoded");
  }
  const length = pos - start;
  if (buffer === chunk && length <= VIEW_LIMIT) {
    used = pos;
    return new Uint8Array(chunk.buffer, start, length);
  }
  if (buffer === chunk) return chunk.slice(start, pos);
  // A buffer of its own: hand it out unless it is mostly empty.
  return length * 2 >= buffer.length ? buffer.subarray(0, length) : buffer.slice(0, length);
}

/** Abandons the encoding (after an error). */
export function abort(): void {
  busy = false;
}

/** Writes `text` as a netstring of its UTF-8 bytes; returns the position after it. */
export function writeText(buffer: Uint8Array, pos: number, text: string): number {
  const n = text.length;
  const digits = digitCount(n);
  const body = pos + digits + 1;
  if (n <= SHORT_TEXT) {
    // Short ASCII text (the common case) is copied in JS: cheaper than a native call.
    let p = body;
    let i = 0;
    for (; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0x80) break;
      buffer[p++] = c;
    }
    if (i === n) {
      writeDigits(buffer, pos, n, digits);
      buffer[body - 1] = COLON;
      buffer[p] = COMMA;
      return p + 1;
    }
  }
  const written = writeUtf8(buffer, text, body);
  // UTF-8 is longer than the UTF-16 length exactly when the text is not all ASCII.
  if (written !== n && hasLoneSurrogate(text)) {
    throw new KvError("EKV_UTF16", "kv: text contains an unpaired surrogate, which has no UTF-8 form");
  }
  return placeLength(buffer, pos, written, digits);
}

/** Writes `text`, whose characters are all below U+0100, one byte per character. */
export function writeLatin1(buffer: Uint8Array, pos: number, text: string): number {
  const n = text.length;
  const digits = digitCount(n);
  writeDigits(buffer, pos, n, digits);
  let p = pos + digits;
  buffer[p++] = COLON;
  for (let i = 0; i < n; i++) buffer[p++] = text.charCodeAt(i);
  buffer[p] = COMMA;
  return p + 1;
}

/** Writes `bytes` as a netstring; returns the position after it. */
export function writeBytes(buffer: Uint8Array, pos: number, bytes: Uint8Array): number {
  const n = bytes.length;
  const digits = digitCount(n);
  writeDigits(buffer, pos, n, digits);
  const body = pos + digits + 1;
  buffer[body - 1] = COLON;
  buffer.set(bytes, body);
  buffer[body + n] = COMMA;
  return body + n + 1;
}

/**
 * Closes the netstring that holds a key's values. The caller reserved `guessDigits + 1` bytes
 * for its header at `header` (from the length the values would have if all text were ASCII)
 * and wrote the values up to `pos`; the values are moved only if the guess had a different
 * number of digits. Returns the position after the closing comma.
 */
export function closeGroup(buffer: Uint8Array, header: number, guessDigits: number, pos: number): number {
  return placeLength(buffer, header, pos - (header + guessDigits + 1), guessDigits);
}

/**
 * Writes the length prefix of a netstring whose `length`-byte content was written after a
 * `guessDigits`-digit prefix at `pos`, moving the content if the real length has another
 * number of digits. Returns the position after the closing comma.
 */
function placeLength(buffer: Uint8Array, pos: number, length: number, guessDigits: number): number {
  const digits = digitCount(length);
  if (digits !== guessDigits) {
    const body = pos + guessDigits + 1;
    buffer.copyWithin(pos + digits + 1, body, body + length);
  }
  writeDigits(buffer, pos, length, digits);
  buffer[pos + digits] = COLON;
  const end = pos + digits + 1 + length;
  buffer[end] = COMMA;
  return end + 1;
}
