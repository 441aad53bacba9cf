// Types for the `siphash` package (jedisct1/siphash-js 1.2), which ships none: only what auth.ts uses.
declare module "siphash" {
  /** A 64-bit result as two unsigned 32-bit halves. */
  interface SipHashResult {
    h: number;
    l: number;
  }
  const SipHash: {
    /** SipHash-2-4 of `message` under the 128-bit `key` (four little-endian 32-bit words). */
    hash(key: ArrayLike<number>, message: Uint8Array | string): SipHashResult;
  };
  export default SipHash;
}
