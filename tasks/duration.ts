import { InvalidTaskError } from "./errors.js";

/**
 * Durations as Samply.Beam reads them (with the `fundu` crate): a decimal number, optionally with
 * an exponent, and an optional unit `ns Ms ms s m h d w` (`Ms` is microseconds). A bare number
 * takes the default unit, which differs by field: seconds for a task's `ttl`, milliseconds for
 * `wait_time` (Samply's code, against its README which says seconds).
 */
export type DurationUnit = "ms" | "s";

const MILLISECONDS: Record<string, number> = {
  ns: 1e-6,
  Ms: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

const DURATION = /^\s*(\d+(?:\.\d*)?|\.\d+)(?:[eE]([+-]?\d+))?\s*(ns|Ms|ms|s|m|h|d|w)?\s*$/;

/** The longest duration accepted: about 68 years, far past any task; it keeps timers finite. */
const MAX_MS = 2 ** 51;

/** Parses `text` into milliseconds, or throws `InvalidTaskError` naming `what`. */
export function parseDuration(text: unknown, defaultUnit: DurationUnit, what: string): number {
  const match = typeof text === "string" ? DURATION.exec(text) : null;
  if (match === null) {
    throw new InvalidTaskError(`${what}: "${String(text)}" is not a duration (e.g. 30s, 500ms, 5m)`);
  }
  const value = Number(`${match[1]}e${match[2] ?? "0"}`) * MILLISECONDS[match[3] ?? defaultUnit]!;
  if (!Number.isFinite(value) || value > MAX_MS) throw new InvalidTaskError(`${what}: "${text}" is too long`);
  return value;
}
