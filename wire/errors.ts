import { BeamhubError } from "../base/error.js";

/**
 * The peer broke the session protocol (bad frame, unknown type, wrong version, a limit
 * exceeded). The session is closed with a GOAWAY carrying `code`; other sessions are unaffected.
 */
export class ProtocolError extends BeamhubError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, `protocol error: ${message}`, options);
  }
}

/** The connection to the peer was lost (closed, reset, or it stopped answering pings). */
export class ConnectionLostError extends BeamhubError {
  constructor(message: string, cause?: unknown) {
    super("ECONNECTION_LOST", message, cause === undefined ? undefined : { cause });
  }
}

/** The peer could not be reached at all (refused, unreachable, timed out before a session). */
export class ConnectError extends BeamhubError {
  constructor(message: string, cause?: unknown, code = "ECONNECT") {
    super(code, message, cause === undefined ? undefined : { cause });
  }
}

/**
 * A connect did not produce a session within its deadline (`connectTimeout`): the hub accepted
 * no connection, or did not answer the handshake (frozen, overloaded, out of descriptors).
 * `address` and `timeoutMs` say which hub and which deadline.
 */
export class ConnectTimeoutError extends ConnectError {
  constructor(
    readonly address: string,
    readonly timeoutMs: number,
    what: string,
    cause?: unknown,
  ) {
    super(`no session with ${address} within ${timeoutMs} ms: ${what}`, cause, "ECONNECT_TIMEOUT");
  }
}
