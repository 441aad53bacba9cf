import { BeamhubError } from "../../base/error.js";

/** The server turns a request away with an HTTP status and a JSON error body. */
export class Refusal extends BeamhubError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    /** The `name` the JSON body reports (default by status: `AuthenticationError` for 401). */
    readonly errorName = status === 401 ? "AuthenticationError" : "SessionRefusedError",
  ) {
    super(code, message);
  }

  /** The JSON body: `{name, message, code}`, as every beamhub HTTP error. */
  get body(): { name: string; message: string; code: string } {
    return { name: this.errorName, message: this.message, code: this.code };
  }
}
