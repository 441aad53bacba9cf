// Certificates made the way an operator makes them: with the openssl command, independent of
// beamhub's own certificate code. A CA signs the hub's certificate; a second CA signs client
// certificates for mutual TLS.
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** A certificate and its key, as files. */
export interface PemFiles {
  cert: string;
  key: string;
}

/** What `makePki` creates in its directory. */
export interface Pki {
  /** The CA that signed the hub's certificate (what clients pass as --ca). */
  serverCa: PemFiles;
  /** The hub's certificate, for 127.0.0.1 and localhost. */
  server: PemFiles;
  /** The CA of client certificates (the hub's --client-ca). */
  clientCa: PemFiles;
  /** A client certificate with CN alice, signed by `clientCa`. */
  alice: PemFiles;
  /** A client certificate with CN mallory, signed by `serverCa`: not a client CA the hub trusts. */
  mallory: PemFiles;
}

async function openssl(args: string[]): Promise<void> {
  await run("openssl", args, { timeout: 10_000 });
}

const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];

async function makeCa(dir: string, name: string, subject: string): Promise<PemFiles> {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  await openssl([
    "req",
    "-x509",
    ...EC,
    "-keyout",
    files.key,
    "-out",
    files.cert,
    "-days",
    "2",
    "-subj",
    `/CN=${subject}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  return files;
}

async function makeLeaf(
  dir: string,
  name: string,
  subject: string,
  ca: PemFiles,
  extensions: string[],
): Promise<PemFiles> {
  const files = { cert: join(dir, `${name}.pem`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, ["basicConstraints=CA:FALSE", "keyUsage=digitalSignature", ...extensions].join("\n"));
  await openssl(["req", "-new", ...EC, "-keyout", files.key, "-out", csr, "-subj", `/CN=${subject}`]);
  await openssl([
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca.cert,
    "-CAkey",
    ca.key,
    "-set_serial",
    `0x${randomBytes(8).toString("hex")}`,
    "-days",
    "2",
    "-extfile",
    ext,
    "-out",
    files.cert,
  ]);
  return files;
}

/** Creates two CAs, the hub's certificate and two client certificates in `dir`. */
export async function makePki(dir: string): Promise<Pki> {
  const [serverCa, clientCa] = await Promise.all([
    makeCa(dir, "server-ca", "beamhub test server CA"),
    makeCa(dir, "client-ca", "beamhub test client CA"),
  ]);
  const client = ["extendedKeyUsage=clientAuth"];
  const [server, alice, mallory] = await Promise.all([
    makeLeaf(dir, "server", "beamhub test hub", serverCa, [
      "extendedKeyUsage=serverAuth",
      "subjectAltName=IP:127.0.0.1,DNS:localhost",
    ]),
    makeLeaf(dir, "alice", "alice", clientCa, client),
    makeLeaf(dir, "mallory", "mallory", serverCa, client),
  ]);
  return { serverCa, server, clientCa, alice, mallory };
}

/** The SHA-256 fingerprint of a certificate file as openssl prints it (AB:CD:...). */
export async function opensslFingerprint(cert: string): Promise<string> {
  const { stdout } = await run("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", cert], {
    timeout: 10_000,
  });
  return stdout.trim().replace(/^.*=/, "");
}
