import { InvalidArgumentError } from "./errors.js";

/**
 * The longest duration a timer can wait: Node's timers take a signed 32-bit count of
 * milliseconds (~24.8 days), and a longer one fires after 1 ms with a TimeoutOverflowWarning —
 * a deadline of 3e9 ms re-armed itself every millisecond and spun the CPU. Every duration a
 * user or a peer supplies is clamped to this.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * A duration in milliseconds from a caller or a peer, checked and clamped to
 * {@link MAX_DURATION_MS}. A bigint is taken as the integer it is (a CBOR encoder in another
 * language may write 5000 as a 64-bit integer, which decodes to a bigint here). Throws
 * `InvalidArgumentError` naming `what` for anything that is not a non-negative number.
 */
export function toDuration(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (value >= 0 && value <= MAX_DURATION_MS) return value; // also false for NaN
    if (value > MAX_DURATION_MS) return MAX_DURATION_MS; // Infinity included: "as long as possible"
  } else if (typeof value === "bigint") {
    if (value >= 0n) return value > BigInt(MAX_DURATION_MS) ? MAX_DURATION_MS : Number(value);
  }
  throw new InvalidArgumentError(
    `${what} must be a non-negative number of milliseconds, got ${describeValue(value)}`,
  );
}

/** A short description of a value for an error message (never the whole value). */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "number":
    case "boolean":
      return String(value);
    case "bigint":
      return `${value}n`;
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
    case "object":
      return value === null ? "null" : Array.isArray(value) ? "an array" : "an object";
    default:
      return `a ${typeof value}`;
  }
}
