/**
 * Which failures to reach the broker no retry can heal: the broker refuses this site's
 * certificate (revoked, expired, not signed by the federation's authority), or this site does not
 * trust the broker's. Each needs an operator (a new certificate, a reload); retrying them at the
 * normal pace only fills the broker's log with handshakes. Network errors are not refusals.
 * @module
 */
import { AuthenticationError, SessionRefusedError, TlsError } from "../transports/http2/errors.js";

/** Why the broker and this site do not accept each other. */
export type BrokerRefusalReason =
  "revoked" | "expired" | "not-yet-valid" | "untrusted" | "refused" | "broker-certificate";

/** A refusal of the broker that retrying at the normal pace cannot heal. */
export interface BrokerRefusal {
  readonly reason: BrokerRefusalReason;
  /** The error's own message (the broker's answer, or the TLS check's), for the log. */
  readonly message: string;
  /** The error code (`EUNAUTHENTICATED`, `ETLS_EXPIRED`, ...). */
  readonly code: string;
}

/**
 * OpenSSL's names for a client certificate the broker did not accept, as its 401 answer
 * carries them ("the client certificate was not accepted: CERT_HAS_EXPIRED"). `CERT_REVOKED`
 * is what the broker marks a revoked certificate with (federation/broker.ts).
 */
const CLIENT_CERTIFICATE: ReadonlyArray<readonly [RegExp, BrokerRefusalReason]> = [
  [/\bCERT_REVOKED\b/, "revoked"],
  [/\bCERT_HAS_EXPIRED\b/, "expired"],
  [/\bCERT_NOT_YET_VALID\b/, "not-yet-valid"],
  [
    /\b(UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|CERT_SIGNATURE_FAILURE|CERT_UNTRUSTED|CERT_REJECTED|INVALID_CA)\b/,
    "untrusted",
  ],
];

/** What a failed dial to the broker was, when retrying cannot heal it; `undefined` otherwise. */
export function brokerRefusalOf(error: unknown): BrokerRefusal | undefined {
  if (error instanceof AuthenticationError) {
    const found = CLIENT_CERTIFICATE.find(([pattern]) => pattern.test(error.message));
    return { reason: found?.[1] ?? "refused", message: error.message, code: error.code };
  }
  // 403: the broker knows the certificate and will not let it in.
  if (error instanceof SessionRefusedError && error.status === 403)
    return { reason: "refused", message: error.message, code: error.code };
  // The broker's own certificate, as this site checks it (expired, another CA, another name).
  // A failed handshake without a verdict (ETLS_HANDSHAKE) may be the network's doing.
  if (error instanceof TlsError && error.code !== "ETLS_HANDSHAKE")
    return { reason: "broker-certificate", message: error.message, code: error.code };
  return undefined;
}

/** One line for the log and `/readyz`: what the refusal means and what fixes it. */
export function describeBrokerRefusal(refusal: BrokerRefusal): string {
  const fix = "install a new certificate from the federation's authority and reload (SIGHUP)";
  switch (refusal.reason) {
    case "revoked":
      return `the broker refuses this site's certificate: it is revoked; ${fix}`;
    case "expired":
      return `the broker refuses this site's certificate: it has expired; ${fix}`;
    case "not-yet-valid":
      return `the broker refuses this site's certificate: it is not valid yet (check the clocks)`;
    case "untrusted":
      return `the broker refuses this site's certificate: not signed by the authority it trusts; ${fix}`;
    case "refused":
      return `the broker refuses this site: ${refusal.message}`;
    case "broker-certificate":
      return `this site does not accept the broker's certificate: ${refusal.message}`;
  }
}
