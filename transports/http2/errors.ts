import { BeamhubError } from "../../base/error.js";

/**
 * The TLS handshake with the hub failed. `code` names the failure (`ETLS_UNTRUSTED`,
 * `ETLS_EXPIRED`, `ETLS_NOT_YET_VALID`, `ETLS_HOSTNAME`, `ETLS_HANDSHAKE`); `tlsCode` is
 * OpenSSL's / Node's own code (`DEPTH_ZERO_SELF_SIGNED_CERT`, `CERT_HAS_EXPIRED`, ...).
 */
export class TlsError extends BeamhubError {
  constructor(
    code: string,
    message: string,
    readonly tlsCode: string | undefined,
    cause: unknown,
  ) {
    super(code, message, { cause });
  }
}

/** The hub refused the session or request: no credentials, or credentials it does not accept. */
export class AuthenticationError extends BeamhubError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EUNAUTHENTICATED", message, options);
  }
}

/**
 * The hub answered the session request with an HTTP error other than 401 (too many sessions,
 * not found behind a proxy, ...). `status` is the HTTP status; `code` the hub's error code
 * when it sent one, else `EHTTP_<status>`.
 */
export class SessionRefusedError extends BeamhubError {
  constructor(
    readonly status: number,
    code: string | undefined,
    message: string,
  ) {
    super(code ?? `EHTTP_${status}`, message);
  }
}

/** `ConnectError` and `ConnectTimeoutError` are the session layer's: every transport's connect throws them. */
export { ConnectError, ConnectTimeoutError } from "../../wire/errors.js";

/**
 * Neither HTTP/2 nor the WebSocket fallback produced a session (transport `"auto"`). `errors`
 * holds both failures, HTTP/2's first.
 */
export class TransportUnavailableError extends BeamhubError {
  constructor(
    message: string,
    readonly errors: readonly unknown[],
  ) {
    super("ETRANSPORT", message, { cause: errors[errors.length - 1] });
  }
}
