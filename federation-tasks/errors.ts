import { TaskError } from "../tasks/errors.js";

/**
 * A task or result that came back from the broker and cannot be trusted: its signature does not
 * verify (altered on the way or at rest), its sender's certificate is expired or revoked, or it
 * is not sealed to this hub (HTTP 502: the upstream handed out something this hub refuses).
 * Lists leave such messages out; asking for one by id answers this.
 */
export class UntrustedMessageError extends TaskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EUNTRUSTED_MESSAGE", message, 502, options);
  }
}

/** The broker that keeps the federation's tasks cannot be reached now (HTTP 503; try again). */
export class BrokerUnavailableError extends TaskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EBROKER_UNAVAILABLE", message, 503, options);
  }
}
