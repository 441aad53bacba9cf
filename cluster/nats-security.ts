/**
 * How a hub proves itself to NATS and checks NATS: TLS (a CA, a client certificate) and
 * credentials (user and password, or an nkey / `.creds` file). Files are read here, so that a
 * missing or malformed one fails the join with a {@link ClusterError} naming it, before any
 * connection is tried — and secrets never have to be on a command line.
 * @module
 */
import { readFile } from "node:fs/promises";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from "@nats-io/transport-node";
import { ClusterError } from "./errors.js";

/** TLS to the NATS servers: PEM files. */
export interface ClusterTls {
  /** The CA that signed the servers' certificates (default: the system's CAs). */
  readonly ca?: string;
  /** This hub's certificate, for servers that demand one (`verify: true`): with `key`. */
  readonly cert?: string;
  /** The certificate's private key. */
  readonly key?: string;
}

/**
 * How the hub authenticates to NATS: a user and password, or a file — a NATS credentials file
 * (`.creds`: a user JWT and its nkey seed, as `nsc` writes it) or an nkey seed file (`SU…`).
 */
export type ClusterCredentials =
  { readonly user: string; readonly password: string } | { readonly file: string };

/** The connection options `tls` and `credentials` stand for (files read). */
export async function natsSecurityOptions(
  servers: readonly string[],
  tls: ClusterTls | undefined,
  credentials: ClusterCredentials | undefined,
): Promise<Partial<ConnectionOptions>> {
  const options: Partial<ConnectionOptions> = {};
  if ((tls?.cert === undefined) !== (tls?.key === undefined))
    throw new ClusterError("cluster TLS: a client certificate needs its key, and a key its certificate");
  if (tls !== undefined || servers.some((server) => server.startsWith("tls://"))) {
    const [ca, cert, key] = await Promise.all([
      readPem("CA", tls?.ca),
      readPem("certificate", tls?.cert),
      readPem("key", tls?.key),
    ]);
    options.tls = { ...(ca && { ca }), ...(cert && { cert }), ...(key && { key }) };
  }
  if (credentials !== undefined) {
    if ("file" in credentials) options.authenticator = await fileAuthenticator(credentials.file);
    else {
      if (typeof credentials.user !== "string" || typeof credentials.password !== "string")
        throw new ClusterError("cluster credentials: user and password must be strings");
      options.user = credentials.user;
      options.pass = credentials.password;
    }
  }
  return options;
}

async function readPem(what: string, path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ClusterError(
      `cannot read the cluster TLS ${what} file ${path}: ${(error as Error).message}`,
      error,
    );
  }
  if (!text.includes("-----BEGIN "))
    throw new ClusterError(`the cluster TLS ${what} file ${path} holds no PEM block`);
  return text;
}

/** An authenticator for a `.creds` file or an nkey seed file. */
async function fileAuthenticator(path: string): Promise<NonNullable<ConnectionOptions["authenticator"]>> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new ClusterError(
      `cannot read the cluster credentials file ${path}: ${(error as Error).message}`,
      error,
    );
  }
  const text = new TextDecoder().decode(bytes);
  if (text.includes("-----BEGIN NATS USER JWT-----")) return credsAuthenticator(bytes);
  const seed = text.trim();
  // A user nkey seed: "SU" and 56 more base32 characters.
  if (/^SU[A-Z2-7]{56}$/.test(seed)) return nkeyAuthenticator(new TextEncoder().encode(seed));
  throw new ClusterError(
    `the cluster credentials file ${path} is neither a NATS .creds file nor a user nkey seed (SU…)`,
  );
}
