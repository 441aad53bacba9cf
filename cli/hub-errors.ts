import {
  AuthenticationError,
  ConnectError,
  SessionRefusedError,
  TlsError,
  TransportUnavailableError,
} from "../index.js";
import { CliError, EXIT } from "./errors.js";
import type { TrustSource } from "./https-options.js";

/** Words for OpenSSL's verification results, as a person would say them. */
const UNTRUSTED_WORDS: Record<string, string> = {
  DEPTH_ZERO_SELF_SIGNED_CERT: "certificate signed by unknown authority (self-signed)",
  SELF_SIGNED_CERT_IN_CHAIN: "certificate signed by unknown authority (self-signed CA in the chain)",
};

/**
 * Explains why connecting to an https:// hub failed, in one line: which hub, what went wrong,
 * what to try. Certificate problems and unreachable hosts exit with `EXIT.unreachable`; a hub
 * that answered but refused the session (401, 429, ...) with `EXIT.failed`, except 503 (the hub
 * is shutting down or full), which a retry later may get past.
 */
export function httpsConnectFailure(
  hub: string,
  error: unknown,
  trust: TrustSource,
  hasCredentials: boolean,
): CliError {
  const fail = (what: string, hint: string, code: number = EXIT.unreachable): CliError =>
    new CliError(`cannot reach the hub at ${hub}: ${what}. ${hint}`, code, { cause: error });
  if (error instanceof TlsError) return tlsFailure(error, trust, fail);
  if (error instanceof AuthenticationError) {
    return fail(
      `it refused the session ${detailOf(error)}`,
      hasCredentials
        ? "Check --token (BEAMHUB_TOKEN) or that --cert is signed by a CA the hub trusts."
        : "The hub requires authentication: pass --token <token> (or BEAMHUB_TOKEN), or --cert <file> --key <file> for mutual TLS.",
      EXIT.failed,
    );
  }
  if (error instanceof SessionRefusedError) {
    return fail(
      `it refused the session ${detailOf(error)}`,
      error.status === 503 ? "The hub is full or shutting down; try again later." : "Ask the hub's operator.",
      error.status === 503 ? EXIT.unreachable : EXIT.failed,
    );
  }
  const refused = codesOf(error).includes("ECONNREFUSED");
  if (refused || error instanceof ConnectError || error instanceof TransportUnavailableError) {
    return fail(
      refused ? "connection refused" : (error as Error).message,
      "Is the hub running and serving https on that host and port (`beamhub serve --listen-https HOST:PORT`)?",
    );
  }
  return fail(
    (error as Error)?.message ?? String(error),
    "Is the hub running, and is that its https address?",
  );
}

function tlsFailure(
  error: TlsError,
  trust: TrustSource,
  fail: (what: string, hint: string) => CliError,
): CliError {
  const tlsCode = error.tlsCode ?? error.code;
  switch (error.code) {
    case "ETLS_UNTRUSTED": {
      const what = `${UNTRUSTED_WORDS[tlsCode] ?? "certificate signed by unknown authority"} [${tlsCode}]`;
      if (trust.kind === "ca-file") {
        return fail(
          what,
          `The hub's certificate is not signed by the CA in --ca ${trust.file}: pass the hub's certificate ` +
            "(`beamhub serve` keeps it in <cert-dir>/cert.pem) or the CA that signed it.",
        );
      }
      if (trust.kind === "dev-cert") {
        return fail(
          what,
          `The development certificate ${trust.file} was trusted but the hub presents another one: ` +
            "pass --ca <file> with the hub's certificate, or --cert-dir <dir> of the `beamhub serve` running there.",
        );
      }
      return fail(
        what,
        "Pass --ca <file> with the hub's certificate or its CA " +
          (trust.loopback
            ? `(or --cert-dir <dir> of the \`beamhub serve\` running here; there is no ${trust.devCertFile}).`
            : "(`beamhub serve` keeps its development certificate in <cert-dir>/cert.pem on the hub's machine, default ~/.beamhub/dev-cert)."),
      );
    }
    case "ETLS_EXPIRED":
    case "ETLS_NOT_YET_VALID":
      return fail(
        `the hub's certificate ${error.code === "ETLS_EXPIRED" ? "has expired" : "is not valid yet"} [${tlsCode}]`,
        "Renew it (`beamhub serve` replaces an expired development certificate when it starts), or check this machine's clock.",
      );
    case "ETLS_HOSTNAME":
      return fail(
        `the hub's certificate is not valid for this host name [${tlsCode}]`,
        "Use a host name the certificate was issued for (a `beamhub serve` development certificate covers localhost, 127.0.0.1, ::1 " +
          "and the names of its --dev-cert-hosts).",
      );
    default:
      return fail(
        `TLS handshake failed: ${error.message}`,
        "Is that port a beamhub https listener? (it speaks TLS 1.3 by default)",
      );
  }
}

/** The server's reason, without the origin prefix the transport already put in front. */
function detailOf(error: Error): string {
  return error.message.replace(/^\S+ refused the session /, "");
}

/** The codes along the error's `cause` chain (a `ConnectError` wraps Node's `ECONNREFUSED`). */
function codesOf(error: unknown): string[] {
  const codes: string[] = [];
  let current = error as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; current !== undefined && current !== null && depth < 5; depth++) {
    if (typeof current.code === "string") codes.push(current.code);
    current = current.cause as typeof current;
  }
  return codes;
}
