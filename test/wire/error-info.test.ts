/**
 * Which errors travel as themselves: every error class of the message model is rebuilt by name
 * (found by reading model/errors.ts, not from a list), the session's own errors and anything a
 * handler threw arrive as a `ServiceError`, and a name from the peer cannot reach
 * `Object.prototype`.
 */
import { describe, expect, it } from "vitest";
import { BeamhubError } from "../../base/error.js";
import * as modelErrors from "../../model/errors.js";
import { ServiceError } from "../../model/errors.js";
import { describeError, rebuildError } from "../../wire/error-info.js";
import { ConnectionLostError, LimitExceededError, ProtocolError } from "../../wire/errors.js";

const modelClasses = Object.values(modelErrors).filter(
  (value): value is typeof BeamhubError =>
    typeof value === "function" && value.prototype instanceof BeamhubError && value !== ServiceError,
);

/** An instance of any error class, whatever its constructor's arguments. */
function instanceOf(errorClass: typeof BeamhubError): BeamhubError {
  const error = Object.create(errorClass.prototype) as BeamhubError;
  Object.assign(error, { name: errorClass.name, message: `a ${errorClass.name}`, code: "ECODE" });
  return error;
}

describe("error-info", () => {
  it("finds every error class of the message model, LimitExceededError included", () => {
    const names = modelClasses.map((errorClass) => errorClass.name);
    expect(names).toEqual(
      expect.arrayContaining(["ClosedError", "ForbiddenError", "LimitExceededError", "ServiceNotFoundError"]),
    );
    expect(names.length).toBeGreaterThanOrEqual(12);
    expect(LimitExceededError).toBe(modelErrors.LimitExceededError);
  });

  it("rebuilds each of them as the same class, with its code and message", () => {
    for (const errorClass of modelClasses) {
      const info = describeError(instanceOf(errorClass));
      expect(info).toMatchObject({ name: errorClass.name, code: "ECODE", hub: true });
      const rebuilt = rebuildError(info);
      expect(rebuilt).toBeInstanceOf(errorClass);
      expect(rebuilt).toMatchObject({
        name: errorClass.name,
        code: "ECODE",
        message: `a ${errorClass.name}`,
      });
    }
  });

  it("sends the session's own errors and a handler's errors as handler errors", () => {
    for (const error of [
      new ProtocolError("EFRAME", "bad"),
      new ConnectionLostError("gone"),
      new TypeError("no"),
    ]) {
      const info = describeError(error);
      expect(info.hub).toBeUndefined();
      const rebuilt = rebuildError(info, "svc");
      expect(rebuilt).toBeInstanceOf(ServiceError);
      expect(rebuilt).toMatchObject({ remoteName: error.name, service: "svc" });
    }
  });

  it("rebuilds a hub error of an unknown or inherited name as a ServiceError", () => {
    for (const name of ["NoSuchError", "constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const rebuilt = rebuildError({ name, message: "m", code: "EX", hub: true });
      expect(rebuilt).toBeInstanceOf(ServiceError);
      expect(rebuilt).toMatchObject({ remoteName: name, code: "EX" });
    }
  });
});
