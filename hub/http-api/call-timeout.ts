import { InvalidArgumentError } from "../../model/errors.js";
import { TIMEOUT_HEADER } from "../../transports/http2/paths.js";

/**
 * The largest call timeout the plain mapping passes on (ms): 2^31-1, about 24.8 days, the
 * longest delay a Node.js timer can hold. A larger `beamhub-timeout` is clamped to it (a timer
 * given more fires after 1 ms, again and again, with a `TimeoutOverflowWarning` each time).
 */
export const MAX_CALL_TIMEOUT = 2_147_483_647;

/**
 * A plain call's timeout from its `beamhub-timeout` header (or `?timeout=` parameter): a
 * positive integer of ms (else `InvalidArgumentError`, 400), clamped to `MAX_CALL_TIMEOUT`;
 * `undefined` when neither is given.
 */
export function callTimeoutOf(
  header: string | string[] | undefined,
  parameter: string | null,
): number | undefined {
  const text = typeof header === "string" ? header : (parameter ?? undefined);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(
      `${TIMEOUT_HEADER} must be a positive integer number of milliseconds, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Math.min(value, MAX_CALL_TIMEOUT);
}
