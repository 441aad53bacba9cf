/**
 * Errors of the TCP gateway. `instanceof GatewayError` catches any of them; `code` names the
 * exact failure and survives the wire (a caller across a transport sees a `ServiceError` with
 * the same `code`, and `details` with the upstream's host, port and errno).
 */
import { BeamhubError } from "../base/error.js";

/** The root of the gateway's errors. */
export class GatewayError extends BeamhubError {}

/** What an {@link UpstreamError} knows about the failed connection. */
export interface UpstreamErrorDetails {
  readonly host: string;
  readonly port: number;
  /** The system error code, e.g. `ECONNREFUSED`, `EHOSTUNREACH`, or `ETIMEDOUT`. */
  readonly errno: string;
}

/** The TCP endpoint behind a service could not be reached (refused, unreachable, timed out). */
export class UpstreamError extends GatewayError {
  /** Travels with the error: a remote caller sees it as `ServiceError.details`. */
  readonly details: UpstreamErrorDetails;

  constructor(details: UpstreamErrorDetails, cause?: unknown) {
    super(
      "EUPSTREAM",
      `cannot connect to upstream ${details.host}:${details.port}: ${details.errno}`,
      cause === undefined ? undefined : { cause },
    );
    this.details = details;
  }
}

/** A target or listen address that cannot be parsed. */
export class InvalidAddressError extends GatewayError {
  constructor(message: string) {
    super("EINVALID_ADDRESS", message);
  }
}

/** A gateway call got a request or reply it does not understand. */
export class GatewayProtocolError extends GatewayError {
  constructor(message: string) {
    super("EGATEWAY_PROTOCOL", message);
  }
}
