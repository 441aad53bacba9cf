import { mkdir, readFile, readdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { AuthorityFilesError, CertificateError } from "./errors.js";
import { checkHubId } from "./hub-name.js";
import {
  type CryptoKey,
  ED25519,
  daysFrom,
  generateSigningKeys,
  importSigningKey,
  normalSerial,
  privateKeyPem,
  randomSerial,
  x509,
} from "./x509.js";

/** Options of `CertificateAuthority.init`. */
export interface AuthorityInitOptions {
  /** The authority's name, in its certificates' subjects (default "beamhub"). */
  name?: string;
  /** Lifetime of the root certificate in days (default 3650). */
  rootDays?: number;
  /** Lifetime of the intermediate that signs hub certificates, in days (default 1825). */
  intermediateDays?: number;
}

/** One certificate the authority signed, as its ledger `issued.json` keeps it. */
export interface IssuedCertificate {
  serial: string;
  hub: string;
  notAfter: string;
  revokedAt?: string;
}

/** A hub's key and certificate chain, as `issue` returns them (PEM). */
export interface HubCredentials {
  /** PKCS#8 PEM of the hub's Ed25519 key: keep it at the hub, mode 0600. */
  key: string;
  /** The hub's certificate followed by the intermediate's: what TLS sends as its chain. */
  certificate: string;
}

const FILES = {
  root: "root.pem",
  rootKey: "root.key",
  intermediate: "ca.pem",
  intermediateKey: "ca.key",
  ledger: "issued.json",
  crl: "crl.pem",
} as const;

/**
 * A small certificate authority in a directory: a root that signs one intermediate, and the
 * intermediate that signs hub certificates whose subject CN is the hub id (as Samply.Beam's PKI,
 * without Vault). Hubs trust `root.pem`; `root.key` may be moved offline once the intermediate
 * exists. Every key is Ed25519 and private key files are written with mode 0600.
 */
export class CertificateAuthority {
  readonly #dir: string;
  readonly #intermediate: x509.X509Certificate;
  readonly #intermediateKey: CryptoKey;
  readonly #ledger: IssuedCertificate[];
  /** PEM of the root certificate: the trust anchor every hub is given. */
  readonly rootPem: string;
  /** PEM of the intermediate that signs hub certificates and the revocation list. */
  readonly intermediatePem: string;

  private constructor(
    dir: string,
    rootPem: string,
    intermediatePem: string,
    intermediateKey: CryptoKey,
    ledger: IssuedCertificate[],
  ) {
    this.#dir = dir;
    this.rootPem = rootPem;
    this.intermediatePem = intermediatePem;
    this.#intermediate = new x509.X509Certificate(intermediatePem);
    this.#intermediateKey = intermediateKey;
    this.#ledger = ledger;
  }

  /** Creates a new authority in `dir` (created if missing; refused if it already holds one). */
  static async init(dir: string, options: AuthorityInitOptions = {}): Promise<CertificateAuthority> {
    const { name = "beamhub", rootDays = 3650, intermediateDays = 1825 } = options;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const present = await readdir(dir);
    if (present.includes(FILES.root) || present.includes(FILES.intermediate))
      throw new AuthorityFilesError(`${dir} already holds a certificate authority`);
    const now = new Date();
    const rootKeys = await generateSigningKeys();
    const root = await x509.X509CertificateGenerator.createSelfSigned({
      serialNumber: randomSerial(),
      name: `CN=${name} root`,
      notBefore: now,
      notAfter: daysFrom(now, rootDays),
      signingAlgorithm: ED25519,
      keys: rootKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 1, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    const intermediateKeys = await generateSigningKeys();
    const intermediate = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `CN=${name} hubs`,
      issuer: root.subject,
      notBefore: now,
      notAfter: daysFrom(now, Math.min(intermediateDays, rootDays)),
      signingAlgorithm: ED25519,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey),
        await x509.AuthorityKeyIdentifierExtension.create(rootKeys.publicKey),
      ],
    });
    const rootPem = root.toString("pem");
    const intermediatePem = intermediate.toString("pem");
    await writeFile(join(dir, FILES.rootKey), privateKeyPem(rootKeys.privateKey), { mode: 0o600 });
    await writeFile(join(dir, FILES.intermediateKey), privateKeyPem(intermediateKeys.privateKey), {
      mode: 0o600,
    });
    await writeFile(join(dir, FILES.root), rootPem);
    await writeFile(join(dir, FILES.intermediate), intermediatePem);
    const authority = new CertificateAuthority(
      dir,
      rootPem,
      intermediatePem,
      intermediateKeys.privateKey,
      [],
    );
    await authority.#saveLedger();
    return authority;
  }

  /** Opens the authority `init` created in `dir`. */
  static async open(dir: string): Promise<CertificateAuthority> {
    const read = async (name: string): Promise<string> => {
      try {
        return await readFile(join(dir, name), "utf8");
      } catch (error) {
        throw new AuthorityFilesError(`cannot read ${join(dir, name)}: is this a beamhub CA directory?`, {
          cause: error,
        });
      }
    };
    const rootPem = await read(FILES.root);
    const intermediatePem = await read(FILES.intermediate);
    const key = await importSigningKey(await read(FILES.intermediateKey)).catch((error: unknown) => {
      throw new AuthorityFilesError(`${FILES.intermediateKey} in ${dir} is not an Ed25519 key`, {
        cause: error,
      });
    });
    let ledger: IssuedCertificate[];
    try {
      ledger = JSON.parse(await read(FILES.ledger)) as IssuedCertificate[];
      if (!Array.isArray(ledger)) throw new TypeError("not an array");
    } catch (error) {
      throw new AuthorityFilesError(`${FILES.ledger} in ${dir} is not a ledger`, { cause: error });
    }
    return new CertificateAuthority(dir, rootPem, intermediatePem, key, ledger);
  }

  /** Every certificate this authority signed, revoked ones included (a copy). */
  issued(): IssuedCertificate[] {
    return this.#ledger.map((entry) => ({ ...entry }));
  }

  /**
   * Makes a key and a certificate for `hub` here, at the authority. Convenient on one machine;
   * across machines prefer `createHubRequest` at the site and `sign` here, so that the key never
   * travels.
   */
  async issue(hub: string, options: { days?: number } = {}): Promise<HubCredentials> {
    checkHubId(hub);
    const keys = await generateSigningKeys();
    const certificate = await this.#certify(hub, keys.publicKey, options.days);
    return { key: privateKeyPem(keys.privateKey), certificate };
  }

  /**
   * Signs a hub's certificate signing request (PEM). The request must carry a valid self-signature
   * and a subject `CN=<hub id>`; `hub`, when given, must equal it. Returns the chain (PEM).
   */
  async sign(csrPem: string, options: { days?: number; hub?: string } = {}): Promise<string> {
    let request: x509.Pkcs10CertificateRequest;
    try {
      request = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (error) {
      throw new CertificateError("not a PEM certificate signing request", { cause: error });
    }
    if (!(await request.verify())) throw new CertificateError("the request's self-signature does not verify");
    const hub = commonName(request.subject);
    if (hub === undefined || request.subject !== `CN=${hub}`)
      throw new CertificateError(`the request's subject must be CN=<hub id>, got "${request.subject}"`);
    checkHubId(hub);
    if (options.hub !== undefined && options.hub !== hub)
      throw new CertificateError(`the request is for "${hub}", expected "${options.hub}"`);
    const publicKey = await request.publicKey.export(ED25519, ["verify"]);
    return this.#certify(hub, publicKey, options.days);
  }

  /**
   * Revokes every live certificate of `hubOrSerial` (a hub id or a serial) and rewrites the
   * revocation list. Returns the serials revoked.
   */
  async revoke(hubOrSerial: string): Promise<string[]> {
    const now = new Date().toISOString();
    const revoked: string[] = [];
    for (const entry of this.#ledger) {
      if (entry.revokedAt !== undefined) continue;
      if (entry.serial !== normalSerial(hubOrSerial) && entry.hub !== hubOrSerial) continue;
      entry.revokedAt = now;
      revoked.push(entry.serial);
    }
    if (revoked.length === 0) throw new CertificateError(`no live certificate for "${hubOrSerial}"`);
    await this.#saveLedger();
    await this.crl();
    return revoked;
  }

  /**
   * The current revocation list, signed by the intermediate, valid for `days` (default 7); also
   * written to `crl.pem` for the broker to distribute.
   */
  async crl(options: { days?: number } = {}): Promise<string> {
    const now = new Date();
    const crl = await x509.X509CrlGenerator.create({
      issuer: this.#intermediate.subject,
      thisUpdate: now,
      nextUpdate: daysFrom(now, options.days ?? 7),
      entries: this.#ledger
        .filter((entry) => entry.revokedAt !== undefined)
        .map((entry) => ({ serialNumber: entry.serial, revocationDate: new Date(entry.revokedAt!) })),
      signingAlgorithm: ED25519,
      signingKey: this.#intermediateKey,
    });
    const pem = crl.toString("pem");
    await writeAtomically(join(this.#dir, FILES.crl), pem);
    return pem;
  }

  async #certify(hub: string, publicKey: CryptoKey, days = 365): Promise<string> {
    const now = new Date();
    const notAfter = daysFrom(now, days);
    if (notAfter > this.#intermediate.notAfter)
      throw new CertificateError(`a ${days}-day certificate would outlive the intermediate`);
    const serial = randomSerial();
    const certificate = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${hub}`,
      issuer: this.#intermediate.subject,
      notBefore: now,
      notAfter,
      signingAlgorithm: ED25519,
      publicKey,
      signingKey: this.#intermediateKey,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        // Both: a site hub is a TLS client of the broker, and a broker (or direct peer) a server.
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.clientAuth,
          x509.ExtendedKeyUsage.serverAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([{ type: "dns", value: hub }]),
        await x509.AuthorityKeyIdentifierExtension.create(this.#intermediate.publicKey),
      ],
    });
    this.#ledger.push({ serial: normalSerial(serial), hub, notAfter: notAfter.toISOString() });
    await this.#saveLedger();
    return `${certificate.toString("pem")}\n${this.intermediatePem}\n`;
  }

  /** Ledger writes, one after another: concurrent `issue` calls must not interleave them. */
  #saving: Promise<void> = Promise.resolve();

  #saveLedger(): Promise<void> {
    const write = (): Promise<void> =>
      writeAtomically(join(this.#dir, FILES.ledger), `${JSON.stringify(this.#ledger, null, 2)}\n`);
    this.#saving = this.#saving.then(write, write);
    return this.#saving;
  }
}

/** The CN of a distinguished name like `CN=proxy1.broker`, if it has one. */
export function commonName(subject: string): string | undefined {
  return /(?:^|,\s*)CN=([^,]+)/.exec(subject)?.[1];
}

/** Writes through a temporary file and a rename, so a crash never leaves half a file. */
async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, text);
  await rename(temporary, path);
}
