import {
  createCipheriv,
  createDecipheriv,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  randomBytes,
  sign,
  verify,
  KeyObject,
} from "node:crypto";
import { lengthPrefixed } from "../length-prefixed.js";
import { SealError, SignatureError } from "./errors.js";
import type { ReplayGuard } from "./replay-guard.js";
import { rawPublicKey, x25519PublicKey } from "./sealing-key.js";

/**
 * A message body encrypted for its recipient hubs and signed by its sender's hub. Everything a
 * broker needs to route it (`from`, `to`) is readable; the body is not. Binary fields are bytes so
 * that every codec carries them as they are.
 */
export interface SealedBody {
  v: 1;
  /** 16 random bytes, base64url: the message's identity for replay detection. */
  id: string;
  /** The sender's hub id: the hub whose certified key signed. */
  from: string;
  /** The recipient hub ids; `keys[i]` is the body key wrapped for `to[i]`. */
  to: string[];
  /** When it was sealed, ms since the epoch (signed, checked against the replay window). */
  time: number;
  /** The ephemeral X25519 public key of this message (32 bytes). */
  epk: Uint8Array;
  /** The 32-byte body key wrapped per recipient with ChaCha20-Poly1305 (48 bytes each). */
  keys: Uint8Array[];
  /** The body's 12-byte nonce. */
  nonce: Uint8Array;
  /** The body: ChaCha20-Poly1305 ciphertext followed by its 16-byte tag. */
  data: Uint8Array;
  /** Ed25519 signature of the sender's hub over all of the above and the context. */
  sig: Uint8Array;
}

/** A recipient of `seal`: a hub id and its verified X25519 sealing key. */
export interface SealRecipient {
  hub: string;
  key: KeyObject;
}

/** Options of `seal`. */
export interface SealOptions {
  /** The sender's hub id. */
  from: string;
  /** The sender hub's certified Ed25519 private key. */
  signingKey: KeyObject;
  recipients: readonly SealRecipient[];
  /**
   * Clear data bound to the body without being encrypted (e.g. routing metadata): `open` must be
   * given the same bytes, so a broker cannot move a body under other metadata.
   */
  context?: Uint8Array;
  now?: number;
}

/** Options of `open`. */
export interface OpenOptions {
  /** This hub's id: must be one of `to`. */
  hub: string;
  /**
   * This hub's X25519 private sealing key (the one its current or a recent record published), or
   * several (a keyring: the current key and retired ones), tried in order.
   */
  privateKey: KeyObject | readonly KeyObject[];
  /** The sender hub's Ed25519 public key, from its verified certificate. */
  senderKey: KeyObject;
  /** Refuses replays; without it the caller takes that on. */
  replay?: ReplayGuard;
  context?: Uint8Array;
  now?: number;
}

const VERSION = "beamhub-seal-v1";
const ZERO_NONCE = Buffer.alloc(12);

/**
 * Encrypts `body` for `recipients` and signs it as `from` (issue: a per-message key, wrapped per
 * recipient through X25519 with an ephemeral key, ChaCha20-Poly1305 for body and keys, Ed25519
 * over everything — encrypt-then-sign, so tampering on the way fails the signature first).
 */
export function seal(body: Uint8Array, options: SealOptions): SealedBody {
  const { from, signingKey, recipients, context = new Uint8Array(0), now = Date.now() } = options;
  if (recipients.length === 0) throw new SealError("a sealed message needs at least one recipient");
  const ephemeral = generateKeyPairSync("x25519");
  const epk = rawPublicKey(ephemeral.publicKey);
  const bodyKey = randomBytes(32);
  const keys = recipients.map(({ hub, key }) =>
    encrypt(wrappingKey(ephemeral.privateKey, key, epk, hub), ZERO_NONCE, bodyKey, Buffer.from(hub)),
  );
  const unsigned = {
    v: 1 as const,
    id: randomBytes(16).toString("base64url"),
    from,
    to: recipients.map(({ hub }) => hub),
    time: now,
    epk,
    keys,
  };
  const nonce = randomBytes(12);
  const data = encrypt(bodyKey, nonce, body, header(unsigned, context));
  const sealed = { ...unsigned, nonce, data, sig: new Uint8Array(0) };
  sealed.sig = sign(null, signedBytes(sealed, context), signingKey);
  return sealed;
}

/**
 * Verifies and decrypts a sealed body addressed to `options.hub`: the signature first (a
 * tampered message is a `SignatureError`, never garbage), then the replay window, then the key.
 */
export function open(sealed: SealedBody, options: OpenOptions): Buffer {
  const { hub, privateKey, senderKey, replay, context = new Uint8Array(0), now = Date.now() } = options;
  checkShape(sealed);
  if (!verify(null, signedBytes(sealed, context), senderKey, sealed.sig))
    throw new SignatureError(`message ${sealed.id} is not signed by ${sealed.from} (tampered or forged)`);
  replay?.check(sealed.id, sealed.time, now);
  const index = sealed.to.indexOf(hub);
  if (index < 0)
    throw new SealError(`message ${sealed.id} is not addressed to ${hub}`, { code: "ESEAL_NOT_RECIPIENT" });
  const bodyKey = unwrapBodyKey(
    sealed,
    index,
    hub,
    privateKey instanceof KeyObject ? [privateKey] : privateKey,
  );
  return decrypt(bodyKey, Buffer.from(sealed.nonce), sealed.data, header(sealed, context));
}

/** The body key wrapped for `to[index]`, under the first of `privateKeys` that unwraps it. */
function unwrapBodyKey(
  sealed: SealedBody,
  index: number,
  hub: string,
  privateKeys: readonly KeyObject[],
): Buffer {
  const epk = Buffer.from(sealed.epk);
  let last: unknown;
  for (const privateKey of privateKeys) {
    try {
      return decrypt(
        wrappingKeyAt(privateKey, x25519PublicKey(epk), epk, rawPublicKey(publicOf(privateKey)), hub),
        ZERO_NONCE,
        sealed.keys[index]!,
        Buffer.from(hub),
      );
    } catch (error) {
      last = error;
    }
  }
  throw new SealError(
    `message ${sealed.id} was sealed to another key of ${hub} (rotated away?); ${privateKeys.length} tried`,
    { cause: last, code: "ESEAL_KEY" },
  );
}

function wrappingKey(ephemeralPrivate: KeyObject, recipient: KeyObject, epk: Buffer, hub: string): Buffer {
  return wrappingKeyAt(ephemeralPrivate, recipient, epk, rawPublicKey(recipient), hub);
}

/** HKDF-SHA256 of the X25519 secret, salted with both public keys and bound to the recipient's id. */
function wrappingKeyAt(
  privateKey: KeyObject,
  publicKey: KeyObject,
  epk: Buffer,
  recipientKey: Buffer,
  hub: string,
): Buffer {
  const secret = diffieHellman({ privateKey, publicKey });
  return Buffer.from(
    hkdfSync("sha256", secret, Buffer.concat([epk, recipientKey]), `${VERSION} wrap ${hub}`, 32),
  );
}

function publicOf(privateKey: KeyObject): KeyObject {
  const jwk = privateKey.export({ format: "jwk" });
  return x25519PublicKey(Buffer.from(jwk.x!, "base64url"));
}

function encrypt(key: Buffer, nonce: Buffer, plaintext: Uint8Array, aad: Buffer): Buffer {
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  cipher.setAAD(aad, { plaintextLength: plaintext.length });
  return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function decrypt(key: Buffer, nonce: Buffer, sealed: Uint8Array, aad: Buffer): Buffer {
  if (sealed.length < 16) throw new SealError("ciphertext shorter than its tag");
  const bytes = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
  const decipher = createDecipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  decipher.setAuthTag(bytes.subarray(bytes.length - 16));
  decipher.setAAD(aad, { plaintextLength: bytes.length - 16 });
  try {
    return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - 16)), decipher.final()]);
  } catch (error) {
    throw new SealError("a sealed part does not decrypt (wrong key or altered bytes)", { cause: error });
  }
}

type Header = Pick<SealedBody, "id" | "from" | "to" | "time" | "epk">;

/** What the body's AEAD binds: everything clear about the message, and the caller's context. */
function header(message: Header, context: Uint8Array): Buffer {
  return lengthPrefixed([
    VERSION,
    message.id,
    message.from,
    message.to.join("\n"),
    String(message.time),
    message.epk,
    context,
  ]);
}

function signedBytes(message: SealedBody, context: Uint8Array): Buffer {
  return lengthPrefixed([header(message, context), ...message.keys, message.nonce, message.data]);
}

function checkShape(sealed: SealedBody): void {
  const bytes = (value: unknown): boolean => value instanceof Uint8Array;
  if (
    sealed === null ||
    typeof sealed !== "object" ||
    sealed.v !== 1 ||
    typeof sealed.id !== "string" ||
    typeof sealed.from !== "string" ||
    !Array.isArray(sealed.to) ||
    !sealed.to.every((hub) => typeof hub === "string") ||
    typeof sealed.time !== "number" ||
    !bytes(sealed.epk) ||
    !Array.isArray(sealed.keys) ||
    sealed.keys.length !== sealed.to.length ||
    !sealed.keys.every(bytes) ||
    !bytes(sealed.nonce) ||
    sealed.nonce.length !== 12 ||
    !bytes(sealed.data) ||
    !bytes(sealed.sig)
  )
    throw new SealError("not a sealed body (version 1): a field is missing or of the wrong type");
}
