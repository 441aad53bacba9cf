// TLS for the NATS harness: a throwaway CA that signs one certificate the servers use for client
// connections and for routes (valid for 127.0.0.1 and localhost, server and client auth), and one
// client certificate for when the servers verify clients (mutual TLS). Made with the repo's own
// development-certificate code, written to files, because nats-server reads files.
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NodeConnectionOptions } from "@nats-io/transport-node";
import { createDevCertificate } from "../../transports/http2/dev-certificate.js";

/** The files of a NATS TLS set-up. */
export interface NatsTls {
  /** The CA's certificate, PEM (what a client trusts). */
  readonly ca: string;
  readonly caFile: string;
  /** The servers' certificate and key (client port and routes). */
  readonly certFile: string;
  readonly keyFile: string;
  /** A certificate signed by the same CA for clients (CN "beamhub-test-client"). */
  readonly clientCertFile: string;
  readonly clientKeyFile: string;
  /** Whether the servers demand a client certificate (`verify: true`). */
  readonly verifyClients: boolean;
}

/** Creates the CA and certificates of a NATS TLS set-up in `dir` (keys mode 0600). */
export async function createNatsTls(dir: string, verifyClients = false): Promise<NatsTls> {
  const ca = await createDevCertificate({ commonName: "beamhub NATS test CA", isCa: true });
  const server = await createDevCertificate({ commonName: "beamhub-nats", signedBy: ca });
  const client = await createDevCertificate({ commonName: "beamhub-test-client", signedBy: ca });
  const files = {
    caFile: join(dir, "ca.pem"),
    certFile: join(dir, "server.pem"),
    keyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client.key"),
  };
  await writeFile(files.caFile, ca.cert);
  await writeFile(files.certFile, server.cert);
  await writeFile(files.keyFile, server.key, { mode: 0o600 });
  await writeFile(files.clientCertFile, client.cert);
  await writeFile(files.clientKeyFile, client.key, { mode: 0o600 });
  return { ca: ca.cert, ...files, verifyClients };
}

/** The nats-server `tls {}` block (for `listen`, and inside `cluster {}` for routes). */
export function natsTlsBlock(tls: NatsTls, forRoutes: boolean, indent = ""): string[] {
  return [
    `${indent}tls {`,
    `${indent}  cert_file: ${JSON.stringify(tls.certFile)}`,
    `${indent}  key_file: ${JSON.stringify(tls.keyFile)}`,
    `${indent}  ca_file: ${JSON.stringify(tls.caFile)}`,
    // Routes always check the peer's certificate; clients only when asked to.
    ...(forRoutes ? [] : [`${indent}  verify: ${tls.verifyClients}`]),
    `${indent}  timeout: 5`,
    `${indent}}`,
  ];
}

/** The `tls` option of a nats.js connection to servers using `tls`. */
export function natsClientTls(tls: NatsTls): NonNullable<NodeConnectionOptions["tls"]> {
  return {
    caFile: tls.caFile,
    ...(tls.verifyClients ? { certFile: tls.clientCertFile, keyFile: tls.clientKeyFile } : {}),
  };
}
