import type { BeamhubError } from "../../base/error.js";
import { AuthenticationError, SessionRefusedError } from "./errors.js";

/** The client's error for a session request the server answered with `status` and `body`. */
export function refusalError(status: number, body: string, origin: string): BeamhubError {
  let info: { message?: unknown; code?: unknown } = {};
  try {
    info = JSON.parse(body) as typeof info;
  } catch {
    // not one of ours (a proxy's page): the status says enough
  }
  const message = typeof info.message === "string" ? info.message : body.trim().slice(0, 200);
  const code = typeof info.code === "string" ? info.code : undefined;
  if (status === 401) return new AuthenticationError(`${origin} refused the session (401): ${message}`);
  return new SessionRefusedError(status, code, `${origin} refused the session (${status}): ${message}`);
}
