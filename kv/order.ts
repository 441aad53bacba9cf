// Canonical key order. kv sorts keys by their bytes (unsigned, lexicographic, a proper prefix
// first), which is also the order of Unicode code points for UTF-8 keys. JavaScript compares
// strings by UTF-16 code units, which agrees except that characters U+E000..U+FFFF sort after
// supplementary characters (surrogate pairs, U+D800..U+DFFF units) in UTF-16 and before them in
// UTF-8; {@link compareText} corrects for that.

/** Orders byte strings: unsigned lexicographic, a proper prefix first (like memcmp). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** Orders strings by the bytes of their UTF-8 encodings, without encoding them. */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Move the surrogate range above U+E000..U+FFFF: code point order = UTF-8 byte order.
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

const NEEDS_CODE_POINT_ORDER = /[\ud800-\uffff]/;

/** Sorts strings (in place) into canonical kv order. */
export function sortText(keys: string[]): string[] {
  keys.sort();
  for (const key of keys) {
    if (NEEDS_CODE_POINT_ORDER.test(key)) return keys.sort(compareText);
  }
  return keys;
}

// Messages on one connection tend to share a shape, so the last key list and its sorted form
// are remembered: comparing a few interned strings is far cheaper than sorting again.
let lastKeys: string[] = [];
let lastSorted: string[] = [];

/**
 * The own enumerable keys of `object` in canonical kv order. The returned array is shared with
 * later calls and must not be modified.
 */
export function sortedKeys(object: object): readonly string[] {
  const keys = Object.keys(object);
  const n = keys.length;
  if (n === lastKeys.length) {
    let same = true;
    for (let i = 0; i < n; i++) {
      if (keys[i] !== lastKeys[i]) {
        same = false;
        break;
      }
    }
    if (same) return lastSorted;
  }
  lastKeys = keys;
  lastSorted = sortText(keys.slice());
  return lastSorted;
}
