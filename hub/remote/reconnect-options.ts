import { InvalidArgumentError } from "../../model/errors.js";

/**
 * How a remote hub client reconnects after it lost its hub (`connectUnix`, `connectHttps`:
 * option `reconnect`). Waits between attempts grow exponentially with full jitter: attempt `n`
 * waits a random time in `[0, min(maxDelay, initialDelay * 2^(n-1))]`, so a hub that restarts
 * under many clients is not hit by all of them in the same millisecond.
 */
export interface ReconnectOptions {
  /** Upper bound of the first wait, in ms (default 100). */
  initialDelay?: number;
  /** Upper bound of any wait, in ms (default 5000). */
  maxDelay?: number;
  /** Attempts before giving up (default `Infinity`: never). */
  maxAttempts?: number;
  /** Milliseconds after the disconnection before giving up (default `Infinity`: never). */
  giveUpAfter?: number;
}

/** The defaults of {@link ReconnectOptions}. */
export const RECONNECT_DEFAULTS: Readonly<Required<ReconnectOptions>> = Object.freeze({
  initialDelay: 100,
  maxDelay: 5000,
  maxAttempts: Infinity,
  giveUpAfter: Infinity,
});

/** A checked reconnection policy, or `false` when reconnection is off. */
export type ReconnectPolicy = Readonly<Required<ReconnectOptions>> | false;

/** The longest wait `setTimeout` keeps (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * Checks `reconnect` at construction (`connectUnix`/`connectHttps` throw before connecting),
 * so a typo fails where it is written instead of at the first hub restart. `undefined` and
 * `true` mean the defaults; `false` turns reconnection off.
 */
export function verifyReconnectOptions(reconnect: ReconnectOptions | boolean | undefined): ReconnectPolicy {
  if (reconnect === false) return false;
  if (reconnect === undefined || reconnect === true) return RECONNECT_DEFAULTS;
  if (reconnect === null || typeof reconnect !== "object") {
    throw new InvalidArgumentError(
      `reconnect must be true, false or an options object, got ${JSON.stringify(reconnect)}`,
    );
  }
  const known = new Set(Object.keys(RECONNECT_DEFAULTS));
  for (const key of Object.keys(reconnect)) {
    if (!known.has(key)) {
      throw new InvalidArgumentError(
        `unknown reconnect option ${JSON.stringify(key)} (known: ${[...known].join(", ")})`,
      );
    }
  }
  const policy = { ...RECONNECT_DEFAULTS };
  for (const key of Object.keys(RECONNECT_DEFAULTS) as (keyof ReconnectOptions)[]) {
    const value = reconnect[key];
    if (value === undefined) continue;
    policy[key] = checkNumber(key, value);
  }
  if (policy.initialDelay > MAX_TIMER || policy.maxDelay > MAX_TIMER) {
    throw new InvalidArgumentError(`reconnect delays must be at most ${MAX_TIMER} ms`);
  }
  if (policy.maxDelay < policy.initialDelay) {
    throw new InvalidArgumentError(
      `reconnect.maxDelay (${policy.maxDelay}) must be >= reconnect.initialDelay (${policy.initialDelay})`,
    );
  }
  if (policy.maxAttempts < 1 || !(Number.isInteger(policy.maxAttempts) || policy.maxAttempts === Infinity)) {
    throw new InvalidArgumentError(
      `reconnect.maxAttempts must be a whole number >= 1 or Infinity, got ${policy.maxAttempts}`,
    );
  }
  return Object.freeze(policy);
}

function checkNumber(key: string, value: unknown): number {
  if (typeof value !== "number" || Number.isNaN(value) || value < 0) {
    throw new InvalidArgumentError(
      `reconnect.${key} must be a number >= 0, got ${typeof value === "number" ? value : JSON.stringify(value)}`,
    );
  }
  return value;
}

/**
 * The wait before attempt `attempt` (1-based): exponential backoff with full jitter
 * ("Exponential Backoff And Jitter", AWS Architecture Blog, 2015): uniformly random below the
 * exponential bound, which spreads a crowd of reconnecting clients best.
 */
export function backoffDelay(
  policy: Readonly<Required<ReconnectOptions>>,
  attempt: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(attempt - 1, 52); // 2^52 already exceeds any maxDelay
  const bound = Math.min(policy.maxDelay, policy.initialDelay * 2 ** exponent);
  return Math.floor(random() * bound);
}
