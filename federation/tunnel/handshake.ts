import {
  createHash,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  sign,
  verify,
  type KeyObject,
} from "node:crypto";
import type { TrustStore, VerifiedHub } from "../pki/trust-store.js";
import { rawPublicKey, x25519PublicKey } from "../seal/sealing-key.js";
import { lengthPrefixed } from "../length-prefixed.js";
import { TunnelHandshakeError } from "./errors.js";
import { RecordCipher } from "./record-cipher.js";

/** A hub's own credentials: its id, certificate chain (PEM) and Ed25519 private key. */
export interface HubIdentity {
  readonly id: string;
  readonly chain: string;
  readonly key: KeyObject;
}

/** One side's hello, as it travels (JSON). */
interface Hello {
  v: 1;
  from: string;
  to: string;
  chain: string;
  /** Ephemeral X25519 public key, base64url. */
  epk: string;
  time: number;
  /** Ed25519 over the fields above and, for the responder, the initiator's hello. */
  sig: string;
}

const LABEL = "beamhub-tunnel-v1";

/** The ephemeral half of a handshake in progress. */
export interface HelloSent {
  readonly bytes: Buffer;
  readonly ephemeral: KeyObject;
}

/** Builds this side's hello: `previous` is the initiator's hello when answering it. */
export function makeHello(
  self: HubIdentity,
  to: string,
  previous: Buffer = Buffer.alloc(0),
  now = Date.now(),
): HelloSent {
  const ephemeral = generateKeyPairSync("x25519");
  const epk = rawPublicKey(ephemeral.publicKey).toString("base64url");
  const hello: Omit<Hello, "sig"> = { v: 1, from: self.id, to, chain: self.chain, epk, time: now };
  const sig = sign(null, signedBytes(hello, previous), self.key).toString("base64url");
  return { bytes: Buffer.from(JSON.stringify({ ...hello, sig })), ephemeral: ephemeral.privateKey };
}

/**
 * Checks the peer's hello: addressed to `self`, from `expected` when known, a chain the trust
 * store accepts naming the sender, a signature by that certificate's key, stamped within `window` ms.
 */
export function checkHello(
  bytes: Buffer,
  options: {
    self: string;
    expected?: string;
    trust: TrustStore;
    previous?: Buffer;
    window: number;
    now?: number;
  },
): { peer: VerifiedHub; epk: KeyObject } {
  let hello: Hello;
  try {
    hello = JSON.parse(bytes.toString()) as Hello;
  } catch (error) {
    throw new TunnelHandshakeError("the peer's hello is not JSON", { cause: error });
  }
  if (
    hello === null ||
    typeof hello !== "object" ||
    hello.v !== 1 ||
    typeof hello.from !== "string" ||
    typeof hello.to !== "string" ||
    typeof hello.chain !== "string" ||
    typeof hello.epk !== "string" ||
    typeof hello.time !== "number" ||
    typeof hello.sig !== "string"
  )
    throw new TunnelHandshakeError("the peer's hello lacks a field (v 1: from, to, chain, epk, time, sig)");
  if (hello.to !== options.self)
    throw new TunnelHandshakeError(`the hello is for "${hello.to}", not this hub "${options.self}"`);
  if (options.expected !== undefined && hello.from !== options.expected)
    throw new TunnelHandshakeError(
      `expected a hello from "${options.expected}", got one from "${hello.from}"`,
    );
  let peer: VerifiedHub;
  try {
    peer = options.trust.verify(hello.chain, { hub: hello.from });
  } catch (error) {
    throw new TunnelHandshakeError(
      `the certificate of "${hello.from}" was refused: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  const { sig, ...fields } = hello;
  if (
    !verify(
      null,
      signedBytes(fields, options.previous ?? Buffer.alloc(0)),
      peer.publicKey,
      Buffer.from(sig, "base64url"),
    )
  )
    throw new TunnelHandshakeError(`the hello of "${hello.from}" is not signed by its certificate`);
  const now = options.now ?? Date.now();
  if (!(Math.abs(now - hello.time) <= options.window))
    throw new TunnelHandshakeError(
      `the hello of "${hello.from}" is stamped ${new Date(hello.time).toISOString()}: clocks apart or replayed`,
    );
  return { peer, epk: x25519PublicKey(Buffer.from(hello.epk, "base64url")) };
}

/**
 * This side's two record ciphers, with keys bound to both hellos (so that neither can be swapped
 * or replayed into another tunnel): HKDF-SHA256 of the X25519 secret, salted with the transcript.
 */
export function tunnelCiphers(
  role: "initiator" | "responder",
  ephemeral: KeyObject,
  peerEpk: KeyObject,
  initiatorHello: Buffer,
  responderHello: Buffer,
): { send: RecordCipher; receive: RecordCipher } {
  const secret = diffieHellman({ privateKey: ephemeral, publicKey: peerEpk });
  const transcript = createHash("sha256").update(initiatorHello).update(responderHello).digest();
  const keys = Buffer.from(hkdfSync("sha256", secret, transcript, LABEL, 64));
  const initiatorToResponder = new RecordCipher(keys.subarray(0, 32));
  const responderToInitiator = new RecordCipher(keys.subarray(32));
  return role === "initiator"
    ? { send: initiatorToResponder, receive: responderToInitiator }
    : { send: responderToInitiator, receive: initiatorToResponder };
}

function signedBytes(hello: Omit<Hello, "sig">, previous: Buffer): Buffer {
  return lengthPrefixed([LABEL, hello.from, hello.to, hello.chain, hello.epk, String(hello.time), previous]);
}
