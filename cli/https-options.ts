import { existsSync } from "node:fs";
import { join } from "node:path";
import { createSecureContext, rootCertificates } from "node:tls";
import type { ConnectHttpsOptions } from "../index.js";
import type { HubTlsConfig } from "./config.js";
import { CliError, EXIT } from "./errors.js";
import { isLoopback } from "./hub-address.js";
import { readPem } from "./pem.js";

/** Which certificates the client trusted, so a TLS error can say what to change. */
export type TrustSource =
  | { kind: "ca-file"; file: string }
  | { kind: "dev-cert"; file: string }
  | { kind: "system"; devCertFile: string; loopback: boolean };

/** Per attempt (HTTP/2, then the WebSocket fallback): a CLI user should not wait 10 s twice. */
const CONNECT_TIMEOUT_MS = 5000;

/**
 * Builds `connectHttps` options from the CLI's TLS settings, reading the PEM files now so a
 * missing or malformed file is a usage error naming the flag, not a TLS failure later. Without
 * `--ca`, a loopback hub is also trusted to present `beamhub serve`'s development certificate
 * (`<certDir>/cert.pem`) when that file exists — next to, not instead of, the system's CAs.
 */
export function httpsOptions(
  url: URL,
  tls: HubTlsConfig,
): { options: ConnectHttpsOptions; trust: TrustSource } {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new CliError(
      `mutual TLS needs both --cert and --key (got only --${tls.cert === undefined ? "key" : "cert"})`,
      EXIT.usage,
    );
  }
  if (url.protocol === "wss:" && tls.transport === "http2") {
    throw new CliError("a wss:// hub is reached over WebSocket only; drop --transport http2", EXIT.usage);
  }
  const options: ConnectHttpsOptions = { timeout: CONNECT_TIMEOUT_MS };
  // Left out for "auto": connectHttps then picks by scheme (wss:// means WebSocket only).
  if (tls.transport !== "auto") options.transport = tls.transport;
  if (tls.token !== undefined) options.token = tls.token;
  if (tls.cert !== undefined && tls.key !== undefined) {
    options.cert = readPem(tls.cert, "--cert");
    options.key = readPem(tls.key, "--key");
    if (!options.key.includes("PRIVATE KEY-----")) {
      throw new CliError(`--key file ${tls.key} holds no private key`, EXIT.usage);
    }
  }
  const devCertFile = join(tls.certDir, "cert.pem");
  let trust: TrustSource;
  if (tls.ca !== undefined) {
    options.ca = readPem(tls.ca, "--ca");
    trust = { kind: "ca-file", file: tls.ca };
  } else if (isLoopback(url) && existsSync(devCertFile)) {
    options.ca = [...rootCertificates, readPem(devCertFile, "the development certificate")];
    trust = { kind: "dev-cert", file: devCertFile };
  } else {
    trust = { kind: "system", devCertFile, loopback: isLoopback(url) };
  }
  checkPems(options);
  return { options, trust };
}

/** OpenSSL rejects a bad key or a key that does not match its certificate: say so up front. */
function checkPems(options: ConnectHttpsOptions): void {
  try {
    createSecureContext({ ca: options.ca, cert: options.cert, key: options.key });
  } catch (error) {
    throw new CliError(
      `the TLS files given (--ca, --cert, --key) are not usable: ${(error as Error).message}`,
      EXIT.usage,
      { cause: error },
    );
  }
}
