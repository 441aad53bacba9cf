import SipHash from "siphash";

/** SipHash's 128-bit key as Mles uses it: `SipHasher::new()`, i.e. keys (0, 0). */
const ZERO_KEY = new Uint32Array(4);
const MAX_U64 = (1n << 64n) - 1n;

/**
 * The 64-bit SipHash-2-4 (keys 0, 0) of `uid ‖ channel ‖ key`, the bytes simply concatenated
 * with no separator or length — exactly what Mles's `verify_auth` hashes (src/auth.rs).
 */
export function mlesAuthHash(uid: string, channel: string, key?: string): bigint {
  const message = Buffer.from(uid + channel + (key ?? ""), "utf8");
  const { h, l } = SipHash.hash(ZERO_KEY, message);
  return (BigInt(h >>> 0) << 32n) | BigInt(l >>> 0);
}

/**
 * The `auth` value an Mles client sends: the hash in lower-case hex without leading zeros,
 * as Rust's `format!("{:x}", hash)` writes it.
 */
export function mlesAuth(uid: string, channel: string, key?: string): string {
  return mlesAuthHash(uid, channel, key).toString(16);
}

/**
 * Reads `auth` as Mles does (`u64::from_str_radix(auth, 16).unwrap_or(0)`): hex digits in
 * either case with an optional leading `+`, no `0x`; anything else, or more than 64 bits,
 * counts as 0.
 */
export function parseMlesAuth(auth: string): bigint {
  if (!/^\+?[0-9a-fA-F]+$/.test(auth)) return 0n;
  const value = BigInt(`0x${auth.replace(/^\+/, "")}`);
  return value > MAX_U64 ? 0n : value;
}

/**
 * Whether a header's `auth` admits it, by Mles's rule: with a `key` configured, `auth` is
 * required and must be the hash of uid‖channel‖key; without one, `auth` is optional, but when
 * present it must be the hash of uid‖channel. Returns why not, or `undefined` when admitted.
 */
export function checkMlesAuth(
  uid: string,
  channel: string,
  auth: string | undefined,
  key: string | undefined,
): string | undefined {
  if (auth === undefined) return key === undefined ? undefined : "this hub requires auth";
  if (parseMlesAuth(auth) === mlesAuthHash(uid, channel, key)) return undefined;
  return key === undefined
    ? "auth does not match SipHash(uid‖channel) (this hub has no key)"
    : "auth does not match";
}
