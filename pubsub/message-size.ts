/** Past this depth a value is counted as a flat cost: the wire refuses deeper data anyway. */
const MAX_DEPTH = 64;
/** What one value costs besides its payload (an object header, a pointer). */
const OVERHEAD = 16;

/**
 * An estimate of the memory a published value holds, for the history byte cap: exact for the
 * raw frames most publishers send (strings count their UTF-16 length × 2, a Uint8Array its
 * bytes), a close upper bound for structured data. Never encodes the value: publishing must not
 * pay a serialization per message just to be counted.
 */
export function estimateBytes(value: unknown, depth = 0): number {
  if (typeof value === "string") return OVERHEAD + value.length * 2;
  if (value instanceof Uint8Array) return OVERHEAD + value.byteLength;
  if (value === null || typeof value !== "object") return 8;
  if (depth >= MAX_DEPTH) return OVERHEAD;
  let total = OVERHEAD;
  if (Array.isArray(value)) {
    for (const item of value) total += estimateBytes(item, depth + 1);
    return total;
  }
  if (ArrayBuffer.isView(value)) return total + value.byteLength;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    total += key.length * 2 + estimateBytes((value as Record<string, unknown>)[key], depth + 1);
  }
  return total;
}
