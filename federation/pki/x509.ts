import { KeyObject, createPrivateKey, randomBytes, webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/**
 * The one place that hands @peculiar/x509 Node's WebCrypto. Every key of the PKI is Ed25519: small,
 * fast, deterministic signatures, and OpenSSL 3 (Node 20) accepts it for TLS 1.3 client and server
 * certificates, so the same key signs messages and authenticates the hub's TLS sessions.
 */
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

export { x509 };

/** WebCrypto key types, named as Node exports them (the package is built without the DOM library). */
export type CryptoKey = webcrypto.CryptoKey;
export type CryptoKeyPair = webcrypto.CryptoKeyPair;

/** The signature and key algorithm of every certificate, CSR and CRL. */
export const ED25519 = { name: "Ed25519" } as const;

/** A fresh Ed25519 key pair that WebCrypto (and so @peculiar/x509) can use. */
export async function generateSigningKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ED25519, true, ["sign", "verify"])) as CryptoKeyPair;
}

/** PKCS#8 PEM of a private key, as Node's TLS and `createPrivateKey` read it. */
export function privateKeyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ format: "pem", type: "pkcs8" }).toString();
}

/** The WebCrypto form of an Ed25519 private key read from PEM. */
export async function importSigningKey(pem: string): Promise<CryptoKey> {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType !== "ed25519")
    throw new TypeError(`expected an Ed25519 key, got ${key.asymmetricKeyType}`);
  const der = key.export({ format: "der", type: "pkcs8" });
  return webcrypto.subtle.importKey("pkcs8", der, ED25519, true, ["sign"]);
}

/** A random positive 128-bit serial number in hex (RFC 5280 allows up to 20 octets). */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString("hex");
}

/** `days` from `from`, as a Date. */
export function daysFrom(from: Date, days: number): Date {
  return new Date(from.getTime() + days * 86_400_000);
}

/** Splits a PEM bundle into its certificates, in order. */
export function splitPem(bundle: string): string[] {
  return bundle.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

/** Serials compare as lower-case hex without leading zeros. */
export function normalSerial(serial: string): string {
  return serial.toLowerCase().replace(/^0+(?=.)/, "");
}
