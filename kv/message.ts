import { hasLoneSurrogate, isUtf8, latin1, utf8, utf8Bytes } from "./bytes.js";
import { checkHeader, clearSource, segment, setSource } from "./decode.js";
import {
  abort,
  begin,
  closeGroup,
  current,
  ensure,
  finish,
  NETSTRING_OVERHEAD,
  writeBytes,
  writeLatin1,
  writeText,
} from "./encoder.js";
import { KvDecodeError, KvError } from "./errors.js";
import { checkContent, DEFAULT_MAX_LENGTH, digitCount, readLength } from "./netstring.js";
import type { KvDecodeOptions, KvObject, KvRecord, KvValue } from "./types.js";

interface Entry {
  /** The key as the user gave it (or as decoded). */
  key: KvValue;
  values: KvValue[];
}

const ASCII_ONLY = /^[\0-\x7f]*$/;

/**
 * The identity of a key: its bytes as a binary string (one character per byte). Two keys are
 * the same key exactly when their bytes are equal, whether given as text or as bytes, and
 * sorting identities as strings sorts the keys in canonical byte order.
 */
function keyId(key: KvValue): string {
  if (typeof key !== "string") return latin1OfBytes(key);
  if (ASCII_ONLY.test(key)) return key;
  if (hasLoneSurrogate(key)) {
    throw new KvError("EKV_UTF16", "kv: key contains an unpaired surrogate, which has no UTF-8 form");
  }
  return latin1OfBytes(utf8Bytes(key));
}

function latin1OfBytes(bytes: Uint8Array): string {
  return latin1(bytes, 0, bytes.length);
}

function toBytes(value: KvValue): Uint8Array {
  return typeof value === "string" ? utf8Bytes(value) : value;
}

function toText(value: KvValue, what: string): string {
  if (typeof value === "string") return value;
  if (!isUtf8(value)) throw new KvError("EKV_UTF8", `kv: ${what} is not valid UTF-8`);
  return utf8(value, 0, value.length);
}

function checkValue(value: unknown): KvValue {
  if (typeof value === "string" || value instanceof Uint8Array) return value;
  throw new KvError("EKV_VALUE", `kv: keys and values must be strings or Uint8Arrays, got ${typeof value}`);
}

/**
 * A kv message: an ordered-by-key map from byte-string keys to lists of byte-string values.
 * Keys and values may be given as text (stored as UTF-8) or as bytes; a key given as text and
 * the same key given as its UTF-8 bytes are one key. Its encoding is canonical, so two messages
 * are {@link equals | equal} exactly when they encode to the same bytes.
 */
export class KvMessage {
  readonly #entries = new Map<string, Entry>();

  /** Builds a message from a plain object (a single value stands for a one-element list). */
  static fromObject(object: KvObject): KvMessage {
    const message = new KvMessage();
    for (const key of Object.keys(object)) message.set(key, object[key] as KvValue | readonly KvValue[]);
    return message;
  }

  /**
   * Decodes a kv message, binary keys included. Values (and keys) are strings when their bytes
   * are valid UTF-8 and Uint8Arrays otherwise.
   *
   * @throws {KvDecodeError} with the byte offset of the problem.
   */
  static decode(bytes: Uint8Array, options?: KvDecodeOptions): KvMessage {
    const max = options?.maxLength ?? DEFAULT_MAX_LENGTH;
    const end = bytes.length;
    checkHeader(bytes);
    const message = new KvMessage();
    const entries = message.#entries;
    let previous = "";
    setSource(bytes);
    try {
      let pos = 4;
      while (pos < end) {
        const keyLength = readLength(bytes, pos, end, max, "key");
        const keyStart = pos + digitCount(keyLength) + 1;
        checkContent(bytes, pos, keyStart, keyLength, end, "key");
        const keyEnd = keyStart + keyLength;
        const groupPos = keyEnd + 1;
        const groupLength = readLength(bytes, groupPos, end, max, "value list");
        const groupStart = groupPos + digitCount(groupLength) + 1;
        checkContent(bytes, groupPos, groupStart, groupLength, end, "value list");
        const groupEnd = groupStart + groupLength;
        const values: KvValue[] = [];
        for (let p = groupStart; p < groupEnd;) {
          const length = readLength(bytes, p, groupEnd, max, "value");
          const start = p + digitCount(length) + 1;
          checkContent(bytes, p, start, length, groupEnd, "value");
          values.push(segment(start, start + length));
          p = start + length + 1;
        }
        // Identities are the key bytes as a binary string, so string order is byte order.
        const id = latin1(bytes, keyStart, keyEnd);
        if (entries.has(id)) throw new KvDecodeError("EKV_DUPLICATE_KEY", "kv: duplicate key", pos);
        if (options?.canonical === true && pos > 4 && id <= previous) {
          throw new KvDecodeError("EKV_KEY_ORDER", "kv: keys are not in canonical order", pos);
        }
        previous = id;
        entries.set(id, { key: segment(keyStart, keyEnd), values });
        pos = groupEnd + 1;
      }
    } finally {
      clearSource();
    }
    return message;
  }

  /** Number of keys. */
  get size(): number {
    return this.#entries.size;
  }

  /** Whether the message has `key` (possibly with an empty list of values). */
  has(key: KvValue): boolean {
    return this.#entries.has(keyId(key));
  }

  /** The values of `key` as stored (text or bytes), or undefined if the key is absent. */
  get(key: KvValue): KvValue[] | undefined {
    return this.#entries.get(keyId(key))?.values.slice();
  }

  /** The values of `key` as text; throws {@link KvError} `EKV_UTF8` if one is not UTF-8. */
  getStrings(key: KvValue): string[] | undefined {
    return this.#entries.get(keyId(key))?.values.map((value) => toText(value, "value"));
  }

  /** The values of `key` as bytes. */
  getBytes(key: KvValue): Uint8Array[] | undefined {
    return this.#entries.get(keyId(key))?.values.map(toBytes);
  }

  /** The first value of `key` as text, or undefined if the key is absent or has no values. */
  first(key: KvValue): string | undefined {
    const value = this.#entries.get(keyId(key))?.values[0];
    return value === undefined ? undefined : toText(value, "value");
  }

  /** Replaces the values of `key` (a single value stands for a one-element list). */
  set(key: KvValue, values: KvValue | readonly KvValue[]): this {
    const list = Array.isArray(values)
      ? (values as readonly unknown[]).map(checkValue)
      : [checkValue(values)];
    this.#entries.set(keyId(checkValue(key)), { key, values: list });
    return this;
  }

  /** Appends values to `key`, creating it if absent. */
  add(key: KvValue, ...values: KvValue[]): this {
    const id = keyId(checkValue(key));
    const entry = this.#entries.get(id);
    const list = values.map(checkValue);
    if (entry === undefined) this.#entries.set(id, { key, values: list });
    else entry.values.push(...list);
    return this;
  }

  /** Removes `key`; returns whether it was present. */
  delete(key: KvValue): boolean {
    return this.#entries.delete(keyId(key));
  }

  /** Removes every key. */
  clear(): void {
    this.#entries.clear();
  }

  /** The keys, in canonical order, as stored (text or bytes). */
  keys(): KvValue[] {
    return this.#sortedIds().map((id) => (this.#entries.get(id) as Entry).key);
  }

  /** `[key, values]` pairs in canonical order. */
  entries(): [KvValue, KvValue[]][] {
    return this.#sortedIds().map((id) => {
      const entry = this.#entries.get(id) as Entry;
      return [entry.key, entry.values.slice()];
    });
  }

  /**
   * The message as a plain object (keys in canonical order). Values stay as stored: text, or
   * bytes where they are not UTF-8. Throws {@link KvError} `EKV_UTF8` if a key is not UTF-8.
   */
  toObject(): KvRecord {
    const out: KvRecord = {};
    for (const id of this.#sortedIds()) {
      const entry = this.#entries.get(id) as Entry;
      const key = toText(entry.key, "key");
      Object.defineProperty(out, key, {
        value: entry.values.slice(),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }

  /** A deep-enough copy: the lists are copied, the values (immutable by convention) shared. */
  clone(): KvMessage {
    const copy = new KvMessage();
    for (const [id, entry] of this.#entries)
      copy.#entries.set(id, { key: entry.key, values: entry.values.slice() });
    return copy;
  }

  /** Whether both messages have the same keys with the same values in the same order (byte-wise). */
  equals(other: KvMessage): boolean {
    if (other.#entries.size !== this.#entries.size) return false;
    for (const [id, entry] of this.#entries) {
      const theirs = other.#entries.get(id);
      if (theirs === undefined || theirs.values.length !== entry.values.length) return false;
      for (let i = 0; i < entry.values.length; i++) {
        if (!sameBytes(entry.values[i] as KvValue, theirs.values[i] as KvValue)) return false;
      }
    }
    return true;
  }

  /** The canonical kv encoding (see {@link encodeKv}). */
  encode(): Uint8Array {
    const ids = this.#sortedIds();
    let p = begin();
    let buffer = current();
    try {
      for (const id of ids) {
        const values = (this.#entries.get(id) as Entry).values;
        let room = id.length + 2 * NETSTRING_OVERHEAD;
        let guess = 0;
        for (const value of values) {
          room += (typeof value === "string" ? 3 * value.length : value.length) + NETSTRING_OVERHEAD;
          guess += digitCount(value.length) + value.length + 2;
        }
        p = ensure(buffer, p, room);
        buffer = current();
        p = writeLatin1(buffer, p, id);
        const header = p;
        const guessDigits = digitCount(guess);
        p += guessDigits + 1;
        for (const value of values)
          p = typeof value === "string" ? writeText(buffer, p, value) : writeBytes(buffer, p, value);
        p = closeGroup(buffer, header, guessDigits, p);
      }
      return finish(buffer, p);
    } catch (error) {
      abort();
      throw error;
    }
  }

  #sortedIds(): string[] {
    // Identities are binary strings, so the default (UTF-16 code unit) sort is byte order.
    return [...this.#entries.keys()].sort();
  }
}

function sameBytes(a: KvValue, b: KvValue): boolean {
  if (typeof a === "string" && typeof b === "string") return a === b;
  const x = toBytes(a);
  const y = toBytes(b);
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
