import { createPrivateKey, X509Certificate, type KeyObject } from "node:crypto";
import { createSecureContext } from "node:tls";
import { CliError, EXIT } from "./errors.js";
import { readPem } from "./pem.js";
import type { Setting } from "./settings.js";

/** A certificate the hub presents, loaded and checked before anything listens. */
export interface ServerCertificate {
  readonly cert: string;
  readonly key: string;
  readonly certFile: string;
  /** Problems worth a warning that do not stop the hub (an expired certificate, say). */
  readonly warnings: string[];
  /** Loads and checks the same two files again (SIGHUP: a renewed certificate, no restart). */
  readonly reload: () => ServerCertificate;
}

/**
 * Loads `--tls-cert`/`--tls-key` and checks what OpenSSL would otherwise report only at the
 * first handshake, or as an opaque error: each file exists and is PEM, the certificate parses,
 * the key is a usable private key, and the key belongs to the certificate.
 */
export function loadServerCertificate(cert: Setting<string>, key: Setting<string>): ServerCertificate {
  const certPem = readPem(cert.value, cert.source);
  const keyPem = readPem(key.value, key.source);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certPem);
  } catch (error) {
    throw new CliError(
      `${cert.source} file ${cert.value} holds no usable certificate: ${(error as Error).message}`,
      EXIT.usage,
      { cause: error },
    );
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPem);
  } catch (error) {
    throw new CliError(
      `${key.source} file ${key.value} holds no usable private key (an encrypted key is not supported): ` +
        (error as Error).message,
      EXIT.usage,
      { cause: error },
    );
  }
  if (!x509.checkPrivateKey(privateKey)) {
    throw new CliError(
      `${key.source} file ${key.value} does not match the certificate in ${cert.source} ${cert.value}`,
      EXIT.usage,
    );
  }
  try {
    // The whole chain as the server will load it (intermediates after the leaf, ...).
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    throw new CliError(
      `${cert.source} ${cert.value} and ${key.source} ${key.value} are not usable together: ${(error as Error).message}`,
      EXIT.usage,
      { cause: error },
    );
  }
  const warnings: string[] = [];
  const now = Date.now();
  // Warned, not refused: a skewed clock here should not keep the hub down, and clients will say why they refuse.
  if (Date.parse(x509.validTo) <= now)
    warnings.push(`the certificate in ${cert.value} expired on ${x509.validTo}: clients will refuse it`);
  if (Date.parse(x509.validFrom) > now)
    warnings.push(`the certificate in ${cert.value} is not valid until ${x509.validFrom}`);
  return {
    cert: certPem,
    key: keyPem,
    certFile: cert.value,
    warnings,
    reload: () => loadServerCertificate(cert, key),
  };
}

/**
 * Loads `--client-ca`: the CA certificate(s) that sign client certificates for mutual TLS,
 * checked to parse, so a wrong file fails now rather than refusing every client later.
 */
export function loadClientCa(ca: Setting<string>): string {
  const pem = readPem(ca.value, ca.source);
  try {
    new X509Certificate(pem);
    createSecureContext({ ca: pem });
  } catch (error) {
    throw new CliError(
      `${ca.source} file ${ca.value} holds no usable CA certificate: ${(error as Error).message}`,
      EXIT.usage,
      { cause: error },
    );
  }
  return pem;
}

/** The SHA-256 fingerprint of the (first) certificate in `pem`, as `openssl x509 -fingerprint -sha256` prints it. */
export function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}
