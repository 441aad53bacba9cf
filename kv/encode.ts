import { KvError } from "./errors.js";
import {
  abort,
  begin,
  closeGroup,
  current,
  ensure,
  finish,
  NETSTRING_OVERHEAD,
  writeBytes,
  writeText,
} from "./encoder.js";
import { KvMessage } from "./message.js";
import { digitCount } from "./netstring.js";
import { sortedKeys } from "./order.js";
import type { KvObject } from "./types.js";

/**
 * Encodes a kv message: the header `000;`, then for each key in canonical order (ascending by
 * the key's bytes) `netstring(key)` followed by a netstring of the concatenated netstrings of
 * its values. Equal messages give equal bytes.
 *
 * The result may be a view into a shared pool chunk (like a small Node Buffer): use its
 * `byteOffset`/`byteLength`, not its whole `.buffer`.
 *
 * @throws {KvError} `EKV_VALUE` for a value that is not a string or Uint8Array, `EKV_UTF16` for
 *   text with an unpaired surrogate.
 */
export function encodeKv(message: KvObject | KvMessage): Uint8Array {
  if (message instanceof KvMessage) return message.encode();
  const keys = sortedKeys(message);
  let p = begin();
  let buffer = current();
  try {
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k] as string;
      const value = message[key];
      const list = Array.isArray(value) ? (value as readonly unknown[]) : undefined;
      // Size the key and its values: an upper bound for the buffer, and the length the values
      // would have if all text were ASCII, to reserve their length prefix (closeGroup moves the
      // values in the rare case that the real length has another number of digits).
      let room = 3 * key.length + 2 * NETSTRING_OVERHEAD;
      let guess = 0;
      if (list === undefined) {
        const length = lengthOf(value);
        room += 3 * length + NETSTRING_OVERHEAD;
        guess = digitCount(length) + length + 2;
      } else {
        for (let i = 0; i < list.length; i++) {
          const length = lengthOf(list[i]);
          room += 3 * length + NETSTRING_OVERHEAD;
          guess += digitCount(length) + length + 2;
        }
      }
      if (p + room > buffer.length) {
        p = ensure(buffer, p, room);
        buffer = current();
      }
      p = writeText(buffer, p, key);
      const header = p;
      const guessDigits = digitCount(guess);
      p += guessDigits + 1;
      if (list === undefined) {
        p = writeValue(buffer, p, key, value);
      } else {
        for (let i = 0; i < list.length; i++) p = writeValue(buffer, p, key, list[i]);
      }
      p = closeGroup(buffer, header, guessDigits, p);
    }
    return finish(buffer, p);
  } catch (error) {
    abort();
    throw error;
  }
}

function writeValue(buffer: Uint8Array, pos: number, key: string, value: unknown): number {
  if (typeof value === "string") return writeText(buffer, pos, value);
  if (value instanceof Uint8Array) return writeBytes(buffer, pos, value);
  throw badValue(key, value);
}

/** The length of a value (0 for anything that is not one: it is refused when written). */
function lengthOf(value: unknown): number {
  return typeof value === "string" || value instanceof Uint8Array ? value.length : 0;
}

function badValue(key: string, value: unknown): KvError {
  const type = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
  return new KvError(
    "EKV_VALUE",
    `kv: value of key ${JSON.stringify(key)} must be a string or Uint8Array, got ${type}`,
  );
}
