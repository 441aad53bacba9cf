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
  constructor(message: string, cause?: unknown, code = "ECONNECTION_LOST") {
    super(code, message, cause === undefined ? undefined : { cause });
  }
}

/**
 * The session was closed because one side did not read what the other sent: the bytes queued
 * for it stayed above the high-water mark for longer than `slowConsumerTimeout`, or grew past
 * `maxUnsentBytes` (GOAWAY code `ESLOW_CONSUMER`). The side that closed gets it locally; the
 * side that was too slow gets it from the GOAWAY, if it ever reads that far.
 */
export class SlowConsumerError extends ConnectionLostError {
  constructor(message: string) {
    super(message, undefined, "ESLOW_CONSUMER");
  }
}

// A refusal of one stream, channel or call is the message model's (it travels to the peer as
// itself); it is re-exported here for the wire code that raises it.
export { LimitExceededError } from "../model/errors.js";

/** A connection option is out of range: thrown by the constructor, before anything is sent. */
export class ConnectionConfigError extends BeamhubError {
  constructor(message: string) {
    super("EINVALID_CONFIG", message);
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
