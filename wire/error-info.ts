import { BeamhubError } from "../base/error.js";
import * as modelErrors from "../model/errors.js";

const { ServiceError } = modelErrors;

/**
 * An error as it travels in a FAIL frame (PROTOCOL.md, "Errors"). `hub: true` marks beamhub's
 * own failures (no such service, timeout, closed, ...), which the receiver rebuilds as the same
 * class; anything else is what a handler threw and arrives as a `ServiceError`.
 */
export interface WireError {
  name: string;
  message: string;
  code: string;
  details?: unknown;
  /** The service whose handler failed, for handler errors. */
  service?: string;
  hub?: boolean;
}

/**
 * beamhub's own error classes that a peer rebuilds by name: every `BeamhubError` class of the
 * message model, found by reading the module rather than listed, so a new one travels at once.
 * `ServiceError` is not among them (it carries a handler's error, see below), nor are the wire's
 * own errors (a lost or broken session is this end's news, not the peer's). A `Map`, because a
 * name comes from the peer and must not find `Object.prototype`'s members.
 */
const HUB_ERRORS: ReadonlyMap<string, typeof BeamhubError> = new Map(
  Object.values(modelErrors)
    .filter(
      (value): value is typeof BeamhubError =>
        typeof value === "function" && value.prototype instanceof BeamhubError && value !== ServiceError,
    )
    .map((errorClass) => [errorClass.name, errorClass]),
);

/** Describes any thrown value (or close reason) in the form that travels in a FAIL, CLOSE or RESET. */
export function describeError(error: unknown): WireError {
  if (error instanceof ServiceError) {
    const info: WireError = {
      name: error.remoteName,
      message: error.message,
      code: error.code,
      service: error.service,
    };
    if (error.details !== undefined) info.details = error.details;
    return info;
  }
  if (error instanceof BeamhubError && HUB_ERRORS.has(error.name)) {
    return { name: error.name, message: error.message, code: error.code, hub: true };
  }
  return { ...ServiceError.describe(error) };
}

/** Rebuilds a travelled error: the same class for hub errors, a `ServiceError` otherwise. */
export function rebuildError(info: WireError, service = "channel"): Error {
  const name = typeof info.name === "string" ? info.name : "Error";
  const message = typeof info.message === "string" ? info.message : String(info.message);
  const code = typeof info.code === "string" ? info.code : "EHANDLER";
  const hubClass = info.hub === true ? HUB_ERRORS.get(name) : undefined;
  if (hubClass !== undefined) {
    const error = new BeamhubError(code, message);
    Object.setPrototypeOf(error, hubClass.prototype);
    error.name = name;
    return error;
  }
  const cause = new Error(message);
  cause.name = name;
  return new ServiceError(
    typeof info.service === "string" ? info.service : service,
    { name, message, code, details: info.details },
    cause,
  );
}
