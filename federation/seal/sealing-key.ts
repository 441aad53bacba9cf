import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";
import { SealError, SignatureError } from "./errors.js";

/**
 * A hub's X25519 key for receiving sealed messages, vouched for by the hub's certified Ed25519
 * key. Keeping it apart from the certificate lets a hub rotate it as often as it likes (publish
 * a new record, keep the old private key until messages sealed to it have drained) without going
 * back to the authority: the certificate says who the hub is, the record which key to seal to.
 */
export interface SealingKeyRecord {
  /** The hub id this key belongs to. */
  hub: string;
  /** The raw 32-byte X25519 public key, base64url. */
  key: string;
  /** Until when senders may seal to it, ms since the epoch. */
  notAfter: number;
  /** Ed25519 signature of the hub's certified key over the three fields above, base64url. */
  signature: string;
}

/** A fresh sealing key pair and its signed record. */
export function createSealingKey(
  hub: string,
  identityKey: KeyObject,
  options: { days?: number; now?: number } = {},
): { record: SealingKeyRecord; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync("x25519");
  const key = rawPublicKey(publicKey).toString("base64url");
  const notAfter = (options.now ?? Date.now()) + (options.days ?? 30) * 86_400_000;
  const signature = sign(null, recordBytes(hub, key, notAfter), identityKey).toString("base64url");
  return { record: { hub, key, notAfter, signature }, privateKey };
}

/**
 * The signed record of a sealing key the hub already holds (kept in a file, so that messages
 * sealed to it while the hub was down, e.g. tasks stored at the broker, still open after a restart).
 */
export function sealingKeyRecord(
  hub: string,
  privateKey: KeyObject,
  identityKey: KeyObject,
  options: { days?: number; now?: number } = {},
): SealingKeyRecord {
  if (privateKey.asymmetricKeyType !== "x25519")
    throw new SealError(`a sealing key is an X25519 private key, got ${privateKey.asymmetricKeyType ?? "?"}`);
  const key = rawPublicKey(createPublicKey(privateKey)).toString("base64url");
  const notAfter = (options.now ?? Date.now()) + (options.days ?? 30) * 86_400_000;
  const signature = sign(null, recordBytes(hub, key, notAfter), identityKey).toString("base64url");
  return { hub, key, notAfter, signature };
}

/**
 * The X25519 public key of `record` once its signature verifies under `identityKey` (the hub's
 * certified key) and it has not expired; typed errors otherwise.
 */
export function verifySealingKey(
  record: SealingKeyRecord,
  identityKey: KeyObject,
  now = Date.now(),
): KeyObject {
  if (
    record === null ||
    typeof record !== "object" ||
    typeof record.hub !== "string" ||
    typeof record.key !== "string" ||
    typeof record.notAfter !== "number" ||
    typeof record.signature !== "string"
  )
    throw new SealError("a sealing key record needs hub, key, notAfter and signature");
  const signed = recordBytes(record.hub, record.key, record.notAfter);
  if (!verify(null, signed, identityKey, Buffer.from(record.signature, "base64url")))
    throw new SignatureError(`the sealing key record of ${record.hub} is not signed by its certified key`);
  if (record.notAfter < now)
    throw new SealError(`the sealing key of ${record.hub} expired`, { code: "ESEAL_KEY_EXPIRED" });
  return x25519PublicKey(Buffer.from(record.key, "base64url"));
}

/** The raw 32 bytes of an X25519 public key. */
export function rawPublicKey(key: KeyObject): Buffer {
  const { x } = key.export({ format: "jwk" });
  return Buffer.from(x!, "base64url");
}

/** An X25519 public key from its raw 32 bytes. */
export function x25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new SealError(`an X25519 key has 32 bytes, got ${raw.length}`);
  return createPublicKey({
    key: { kty: "OKP", crv: "X25519", x: Buffer.from(raw).toString("base64url") },
    format: "jwk",
  });
}

function recordBytes(hub: string, key: string, notAfter: number): Buffer {
  return Buffer.from(`beamhub-sealing-key-v1\n${hub}\n${key}\n${notAfter}`);
}
