import { BeamhubError } from "../../base/error.js";
import { ConnectionLostError } from "../../wire/errors.js";

/**
 * A request was in flight (sent, not yet answered) when the connection to the hub was lost.
 * It failed, and it was NOT sent again after the client reconnected: the hub or the service may
 * already have acted on it (a call can have side effects), so only the caller can tell whether
 * repeating it is safe. `code` is `ECONNECTION_LOST`; `cause` is what ended the connection.
 */
export class RequestInterruptedError extends ConnectionLostError {
  constructor(
    /** What was in flight, e.g. `call "greet"` or `register "db"`. */
    readonly operation: string,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? ` (${cause.message})` : "";
    super(
      `${operation} was in flight when the connection to the hub was lost${why}; it was not retried (it may or may not have taken effect)`,
      cause,
    );
  }
}

/**
 * A request made while the client was reconnecting waited for the reconnection as long as it
 * could (its own timeout) and the hub did not come back in time.
 */
export class ReconnectTimeoutError extends BeamhubError {
  constructor(
    readonly operation: string,
    /** How long it waited, in ms. */
    readonly waited: number,
    cause?: unknown,
  ) {
    super(
      "EDISCONNECTED",
      `${operation} waited ${waited} ms for the connection to the hub to come back, in vain`,
      cause === undefined ? undefined : { cause },
    );
  }
}

/**
 * The client gave up reconnecting to its hub (`reconnect.maxAttempts` or `giveUpAfter` reached,
 * or an attempt failed in a way retrying cannot fix, such as refused credentials). Everything
 * waiting for the reconnection fails with it, watches end with it, and the client is closed.
 * `cause` is the last attempt's error.
 */
export class ReconnectGaveUpError extends BeamhubError {
  constructor(
    /** Attempts made. */
    readonly attempts: number,
    /** Milliseconds since the connection was lost. */
    readonly elapsed: number,
    cause: unknown,
  ) {
    const why = cause instanceof Error ? `: ${cause.message}` : "";
    super(
      "ERECONNECT_GAVE_UP",
      `gave up reconnecting to the hub after ${attempts} attempt${attempts === 1 ? "" : "s"} in ${elapsed} ms${why}`,
      { cause },
    );
  }
}
