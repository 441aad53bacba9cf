import { BeamhubError } from "../../base/error.js";
import { ConnectError, TlsError } from "./errors.js";

/** OpenSSL verification results that mean "nobody we trust signed this certificate". */
const UNTRUSTED = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
]);

/** Errors of the TCP connect itself: retrying over another protocol on the same port is useless. */
const UNREACHABLE = new Set([
  "ECONNREFUSED",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ETIMEDOUT",
]);

/**
 * Turns what Node reports for a failed connection into a precise beamhub error: certificate
 * problems name the certificate problem (untrusted, expired, wrong host) and how to fix it.
 */
export function connectFailure(error: unknown, origin: string): BeamhubError {
  if (error instanceof BeamhubError) return error;
  const code = (error as { code?: unknown })?.code;
  const tlsCode = typeof code === "string" ? code : undefined;
  const detail = `${(error as Error)?.message ?? String(error)}${tlsCode ? ` (${tlsCode})` : ""}`;
  const verification = `TLS certificate verification failed for ${origin}`;
  if (tlsCode !== undefined && UNTRUSTED.has(tlsCode)) {
    return new TlsError(
      "ETLS_UNTRUSTED",
      `${verification}: ${detail}. The server's certificate is not signed by a CA this client trusts; pass it (or its CA) as \`ca\`.`,
      tlsCode,
      error,
    );
  }
  if (tlsCode === "CERT_HAS_EXPIRED") {
    return new TlsError(
      "ETLS_EXPIRED",
      `${verification}: the server's certificate has expired (${tlsCode})`,
      tlsCode,
      error,
    );
  }
  if (tlsCode === "CERT_NOT_YET_VALID") {
    return new TlsError(
      "ETLS_NOT_YET_VALID",
      `${verification}: the server's certificate is not yet valid (${tlsCode})`,
      tlsCode,
      error,
    );
  }
  if (tlsCode === "ERR_TLS_CERT_ALTNAME_INVALID") {
    return new TlsError("ETLS_HOSTNAME", `${verification}: ${detail}`, tlsCode, error);
  }
  if (tlsCode?.startsWith("ERR_SSL_") || tlsCode?.startsWith("ERR_TLS_")) {
    return new TlsError("ETLS_HANDSHAKE", `TLS handshake with ${origin} failed: ${detail}`, tlsCode, error);
  }
  if (tlsCode !== undefined && UNREACHABLE.has(tlsCode)) {
    return new ConnectError(`cannot connect to ${origin}: ${detail}`, error);
  }
  return new ConnectError(`connection to ${origin} failed: ${detail}`, error);
}

/**
 * Whether retrying over the WebSocket fallback could help after HTTP/2 failed this way: not for
 * certificate, authentication or reachability problems, which the fallback would hit too.
 */
export function mayFallBack(error: BeamhubError): boolean {
  if (error instanceof TlsError) return error.code === "ETLS_HANDSHAKE" && isAlpnFailure(error.tlsCode);
  if (error instanceof ConnectError) {
    const cause = (error.cause as { code?: unknown } | undefined)?.code;
    return !(typeof cause === "string" && UNREACHABLE.has(cause));
  }
  return (
    error.code !== "EUNAUTHENTICATED" && error.code !== "EFORBIDDEN" && error.code !== "ETOO_MANY_SESSIONS"
  );
}

function isAlpnFailure(tlsCode: string | undefined): boolean {
  return tlsCode === "ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL";
}
