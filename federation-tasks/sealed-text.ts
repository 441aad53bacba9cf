import type { SealedBody } from "../federation/seal/seal.js";
import { SealError } from "../federation/seal/errors.js";

/**
 * How a sealed body travels in Samply's `body` field, which is a string: `bhs1.` and the
 * base64url of a JSON object whose byte fields are base64url strings. The prefix tells a
 * sealed body from a plain one at a glance (in the broker's log, say).
 */
export const SEALED_TEXT_PREFIX = "bhs1.";

const BYTE_FIELDS = ["epk", "nonce", "data", "sig"] as const;

/** `sealed` as text. */
export function sealedToText(sealed: SealedBody): string {
  const json = {
    ...sealed,
    epk: b64(sealed.epk),
    keys: sealed.keys.map(b64),
    nonce: b64(sealed.nonce),
    data: b64(sealed.data),
    sig: b64(sealed.sig),
  };
  return SEALED_TEXT_PREFIX + Buffer.from(JSON.stringify(json)).toString("base64url");
}

/** The sealed body of `text`, or `SealError` (`ESEAL_INVALID`) for anything else. */
export function sealedFromText(text: unknown): SealedBody {
  if (typeof text !== "string" || !text.startsWith(SEALED_TEXT_PREFIX))
    throw new SealError(`the body is not sealed (no "${SEALED_TEXT_PREFIX}" prefix)`);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(Buffer.from(text.slice(SEALED_TEXT_PREFIX.length), "base64url").toString("utf8"));
  } catch (error) {
    throw new SealError("the sealed body is not base64url JSON", { cause: error });
  }
  if (typeof json !== "object" || json === null || !Array.isArray(json.keys))
    throw new SealError("the sealed body is not an object with keys");
  const bytes = (value: unknown): Uint8Array =>
    typeof value === "string" ? Buffer.from(value, "base64url") : new Uint8Array(0);
  const sealed = { ...json, keys: json.keys.map(bytes) } as Record<string, unknown>;
  for (const field of BYTE_FIELDS) sealed[field] = bytes(json[field]);
  // `open` checks every field's type and length before it trusts any.
  return sealed as unknown as SealedBody;
}

function b64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64url");
}
