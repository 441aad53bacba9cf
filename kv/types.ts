/**
 * One kv key or value. Strings travel as their UTF-8 bytes; a Uint8Array travels as is, so any
 * bytes at all can be a key or value.
 */
export type KvValue = string | Uint8Array;

/**
 * A kv message written as a plain object: each key maps to its list of values, or to a single
 * value as shorthand for a one-element list.
 */
export type KvObject = { readonly [key: string]: KvValue | readonly KvValue[] };

/**
 * A decoded kv message as a plain object. Every key maps to a list (possibly empty); a value is
 * a string when its bytes are valid UTF-8 and a Uint8Array otherwise.
 */
export type KvRecord = { [key: string]: KvValue[] };

/** Options of the kv decoders. */
export interface KvDecodeOptions {
  /** Largest length any single netstring may declare. Default `DEFAULT_MAX_LENGTH` (16 MiB). */
  maxLength?: number;
  /**
   * Refuse input that is not in canonical form (keys strictly increasing in byte order), with
   * `EKV_KEY_ORDER`. By default any key order is accepted, as the original Beam encoder wrote
   * keys in Go map order; duplicate keys are refused either way.
   */
  canonical?: boolean;
}
