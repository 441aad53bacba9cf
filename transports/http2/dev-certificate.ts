import { isIP } from "node:net";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, rmdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { generate } from "selfsigned";
import { BeamhubError } from "../../base/error.js";

/** A certificate and its private key, both PEM. */
export interface CertificatePair {
  cert: string;
  key: string;
}

/** Options of `createDevCertificate`. */
export interface DevCertificateOptions {
  /** Subject common name (default `"localhost"`); a client certificate's CN is its identity. */
  commonName?: string;
  /** DNS names and IP addresses the certificate is valid for (default localhost, 127.0.0.1, ::1). */
  hosts?: readonly string[];
  /** Validity (default: from one minute ago for 365 days). */
  notBefore?: Date;
  notAfter?: Date;
  /** Make a CA certificate that can sign others (for mutual TLS set-ups). */
  isCa?: boolean;
  /** Sign with this CA instead of self-signing. */
  signedBy?: CertificatePair;
}

/** The names a development certificate is valid for unless told otherwise. */
export const DEV_CERTIFICATE_HOSTS: readonly string[] = Object.freeze(["localhost", "127.0.0.1", "::1"]);
const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Generates a certificate for development and tests: an EC P-256 key, SHA-256, valid for the
 * given hosts. Self-signed unless `signedBy` names a CA. Production hubs load real certificates.
 */
export async function createDevCertificate(options: DevCertificateOptions = {}): Promise<CertificatePair> {
  const { commonName = "localhost", hosts = DEV_CERTIFICATE_HOSTS, isCa = false, signedBy } = options;
  const notBeforeDate = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfterDate = options.notAfter ?? new Date(notBeforeDate.getTime() + 365 * DAY_MS);
  const altNames = hosts.map((host) =>
    isIP(host) !== 0 ? { type: 7 as const, ip: host } : { type: 2 as const, value: host },
  );
  const pems = await generate([{ name: "commonName", value: commonName }], {
    keyType: "ec",
    curve: "P-256",
    algorithm: "sha256",
    notBeforeDate,
    notAfterDate,
    extensions: isCa
      ? [
          { name: "basicConstraints", cA: true, critical: true },
          { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
        ]
      : [
          { name: "basicConstraints", cA: false },
          { name: "keyUsage", digitalSignature: true, keyEncipherment: true },
          { name: "extKeyUsage", serverAuth: true, clientAuth: true },
          { name: "subjectAltName", altNames },
        ],
    ...(signedBy === undefined ? {} : { ca: { cert: signedBy.cert, key: signedBy.key } }),
  });
  return { cert: pems.cert, key: pems.private };
}

/** A development certificate persisted in a directory, with where its files are. */
export interface DevCertificate extends CertificatePair {
  /** `cert.pem`: give this file to clients as `ca` to pin the hub's certificate. */
  certPath: string;
  /** `key.pem`, mode 0600. */
  keyPath: string;
}

/**
 * Loads the development certificate kept in `dir` (`cert.pem`, `key.pem`), or makes a
 * self-signed one for `options.hosts` (default localhost) and stores it there first — also when
 * the stored one expired, does not match its key, or is not valid for one of `options.hosts`.
 * Processes racing to create it agree on one certificate: creation holds a lock directory and
 * files are replaced atomically.
 */
export async function loadOrCreateDevCertificate(
  dir: string,
  options: DevCertificateOptions = {},
): Promise<DevCertificate> {
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const hosts = options.hosts ?? DEV_CERTIFICATE_HOSTS;
  const loaded = await loadValid(certPath, keyPath, hosts);
  if (loaded !== undefined) return { ...loaded, certPath, keyPath };
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const release = await lock(join(dir, ".lock"));
  try {
    const again = await loadValid(certPath, keyPath, hosts);
    if (again !== undefined) return { ...again, certPath, keyPath };
    const pair = await createDevCertificate(options);
    await writeAtomically(keyPath, pair.key, 0o600);
    await writeAtomically(certPath, pair.cert, 0o644);
    return { ...pair, certPath, keyPath };
  } finally {
    await release();
  }
}

async function loadValid(
  certPath: string,
  keyPath: string,
  hosts: readonly string[],
): Promise<CertificatePair | undefined> {
  try {
    const [cert, key] = await Promise.all([readFile(certPath, "utf8"), readFile(keyPath, "utf8")]);
    const x509 = new X509Certificate(cert);
    const now = Date.now();
    if (Date.parse(x509.validTo) <= now + DAY_MS || Date.parse(x509.validFrom) > now) return undefined;
    if (!x509.checkPrivateKey(createPrivateKey(key))) return undefined;
    if (!hosts.every((host) => certificateCovers(x509, host))) return undefined;
    return { cert, key };
  } catch {
    return undefined;
  }
}

/** Whether the certificate is valid for `host` (a DNS name or an IP address). */
export function certificateCovers(certificate: X509Certificate, host: string): boolean {
  // isIP, not a looser pattern: checkIP throws on what is not an address (e.g. 999.0.0.1).
  return isIP(host) !== 0
    ? certificate.checkIP(host) !== undefined
    : certificate.checkHost(host) !== undefined;
}

async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, content, { mode });
  await rename(temporary, path);
}

/** A lock directory; one left behind by a crashed process is broken after 30 s. */
async function lock(path: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await mkdir(path);
      return () => rmdir(path).catch(() => undefined);
    } catch (error) {
      if ((error as { code?: string }).code !== "EEXIST") throw error;
      const age = await stat(path).then(
        (info) => Date.now() - info.mtimeMs,
        () => 0,
      );
      if (age > 30_000) await rmdir(path).catch(() => undefined);
      else if (Date.now() > deadline)
        throw new BeamhubError("ELOCKED", `timed out waiting for the certificate lock ${path}`);
      else await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
