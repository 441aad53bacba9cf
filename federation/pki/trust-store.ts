import { X509Certificate, type KeyObject } from "node:crypto";
import { CertificateError, CertificateExpiredError, CertificateRevokedError } from "./errors.js";
import { commonName } from "./authority.js";
import { isDottedId } from "../../model/hub-id.js";
import { normalSerial, splitPem, x509 } from "./x509.js";

/** A hub certificate that verified: who it names and the key that speaks for it. */
export interface VerifiedHub {
  /** The hub id (the certificate's CN). */
  readonly id: string;
  /** Serial number, lower-case hex. */
  readonly serial: string;
  readonly notAfter: Date;
  /** The hub's Ed25519 public key: verifies its signatures. */
  readonly publicKey: KeyObject;
  /** SHA-256 fingerprint of the hub certificate. */
  readonly fingerprint: string;
}

/**
 * What a hub trusts: root certificates, the intermediates it has learnt, and their revocation
 * lists. `verify` checks a chain up to a root, the dates of every link, that the leaf names a hub
 * and that no list revokes it, with typed errors naming the failing link.
 */
export class TrustStore {
  readonly #roots: X509Certificate[];
  readonly #intermediates = new Map<string, X509Certificate>();
  /** Revoked serials per issuer (fingerprint of the issuer's certificate). */
  readonly #revoked = new Map<string, Set<string>>();

  /** `roots`: one or more PEM root certificates (a bundle is split). */
  constructor(roots: string) {
    this.#roots = splitPem(roots).map((pem) => new X509Certificate(pem));
    if (this.#roots.length === 0)
      throw new CertificateError("the trust store needs at least one root certificate");
    for (const root of this.#roots) {
      if (!root.ca || !root.checkIssued(root) || !root.verify(root.publicKey))
        throw new CertificateError(`"${root.subject}" is not a self-signed CA certificate`);
    }
  }

  /** Learns an intermediate (PEM) after checking it against a root; returns its subject. */
  addIntermediate(pem: string, now = new Date()): string {
    const certificate = new X509Certificate(pem);
    const root = this.#roots.find((candidate) => issuedBy(certificate, candidate));
    if (!certificate.ca || root === undefined)
      throw new CertificateError(`"${certificate.subject}" is not an intermediate issued by a trusted root`);
    checkDates(certificate, now, "intermediate");
    this.#intermediates.set(certificate.fingerprint256, certificate);
    return certificate.subject;
  }

  /**
   * Applies a revocation list (PEM) signed by a known intermediate or root, or by `issuer` (the
   * intermediate's PEM, learnt first). A newer list replaces the older one of the same issuer.
   */
  async addRevocationList(pem: string, options: { issuer?: string } = {}): Promise<number> {
    if (options.issuer !== undefined) this.addIntermediate(options.issuer);
    let crl: x509.X509Crl;
    try {
      crl = new x509.X509Crl(pem);
    } catch (error) {
      throw new CertificateError("not a PEM certificate revocation list", { cause: error });
    }
    const issuers = [...this.#intermediates.values(), ...this.#roots];
    for (const issuer of issuers) {
      if (issuer.subject !== crl.issuer) continue;
      const publicKey = new x509.X509Certificate(issuer.raw).publicKey;
      if (!(await crl.verify({ publicKey }))) continue;
      this.#revoked.set(
        issuer.fingerprint256,
        new Set(crl.entries.map((entry) => normalSerial(entry.serialNumber))),
      );
      return crl.entries.length;
    }
    throw new CertificateError(`the revocation list of "${crl.issuer}" is not signed by a known issuer`);
  }

  /**
   * Whether a revocation list applied here revokes `serial` (hex, any case, as TLS reports a
   * peer's serial). For a peer whose chain TLS already verified against the same roots: serials
   * are unique per issuer, and a federation's authority has one issuing intermediate.
   */
  isRevoked(serial: string): boolean {
    const wanted = normalSerial(serial.replace(/:/g, ""));
    for (const serials of this.#revoked.values()) if (serials.has(wanted)) return true;
    return false;
  }

  /**
   * Verifies a hub's chain (PEM: the hub certificate, then any intermediates). `hub`, when
   * given, must be the certificate's CN.
   */
  verify(chain: string, options: { hub?: string; now?: Date } = {}): VerifiedHub {
    const now = options.now ?? new Date();
    const [leafPem, ...rest] = splitPem(chain);
    if (leafPem === undefined) throw new CertificateError("no certificate in the chain");
    const leaf = new X509Certificate(leafPem);
    const offered = rest.map((pem) => new X509Certificate(pem));
    const issuer = [...offered, ...this.#intermediates.values()].find(
      (candidate) => candidate.ca && issuedBy(leaf, candidate),
    );
    if (issuer === undefined) throw new CertificateError(`no trusted issuer signed "${leaf.subject}"`);
    if (!this.#intermediates.has(issuer.fingerprint256)) this.addIntermediate(issuer.toString(), now);
    if (leaf.ca) throw new CertificateError(`"${leaf.subject}" is a CA certificate, not a hub's`);
    const id = commonName(leaf.subject);
    if (id === undefined || !isDottedId(id))
      throw new CertificateError(`"${leaf.subject}" does not name a hub id`);
    if (options.hub !== undefined && id !== options.hub)
      throw new CertificateError(`the certificate names "${id}", expected "${options.hub}"`);
    checkDates(issuer, now, "intermediate");
    checkDates(leaf, now, `certificate of ${id}`);
    const serial = normalSerial(leaf.serialNumber);
    if (this.#revoked.get(issuer.fingerprint256)?.has(serial))
      throw new CertificateRevokedError(`the certificate of ${id} (serial ${serial}) is revoked`);
    return {
      id,
      serial,
      notAfter: new Date(leaf.validTo),
      publicKey: leaf.publicKey,
      fingerprint: leaf.fingerprint256,
    };
  }
}

function issuedBy(certificate: X509Certificate, issuer: X509Certificate): boolean {
  return certificate.checkIssued(issuer) && certificate.verify(issuer.publicKey);
}

function checkDates(certificate: X509Certificate, now: Date, what: string): void {
  const from = new Date(certificate.validFrom);
  const to = new Date(certificate.validTo);
  if (now < from) throw new CertificateExpiredError(`the ${what} is not valid before ${from.toISOString()}`);
  if (now > to) throw new CertificateExpiredError(`the ${what} expired at ${to.toISOString()}`);
}
