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
