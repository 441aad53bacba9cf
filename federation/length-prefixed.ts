/**
 * Fields joined with a 4-byte big-endian length before each, so that no two different lists of
 * fields give the same bytes: what every signature and AEAD of the federation covers.
 */
export function lengthPrefixed(parts: ReadonlyArray<Uint8Array | string>): Buffer {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const bytes =
      typeof part === "string"
        ? Buffer.from(part)
        : Buffer.from(part.buffer, part.byteOffset, part.byteLength);
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    chunks.push(length, bytes);
  }
  return Buffer.concat(chunks);
}
