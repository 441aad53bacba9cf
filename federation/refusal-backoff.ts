import { ClosedError, InvalidArgumentError } from "../model/errors.js";
import { brokerRefusalOf, type BrokerRefusal } from "./broker-refusal.js";

/** How a site retries a broker that refuses it (`joinFederation`'s `refusedRetry`). */
export interface RefusalBackoffOptions {
  /** Upper bound of the wait before the first retry after a refusal, in ms (default 10 000). */
  firstDelayMs?: number;
  /** Upper bound of any wait after a refusal, in ms (default 300 000: five minutes). */
  maxDelayMs?: number;
}

/** The defaults of {@link RefusalBackoffOptions}. */
export const REFUSAL_BACKOFF_DEFAULTS: Readonly<Required<RefusalBackoffOptions>> = Object.freeze({
  firstDelayMs: 10_000,
  maxDelayMs: 300_000,
});

/** The longest wait `setTimeout` keeps (2^31 - 1 ms); longer ones fire at once. */
const MAX_TIMER = 2 ** 31 - 1;

/**
 * Wraps the dial of a site's session to its broker. While the broker refuses the site in a way
 * no retry can heal (`brokerRefusalOf`), each dial first waits a long, growing time (doubling
 * from `firstDelayMs` to `maxDelayMs`, with jitter so that a federation's revoked sites do not
 * knock together), instead of the session's normal backoff of a few seconds: every attempt is a
 * TLS handshake the broker does and logs. Network errors change nothing here: they keep the
 * normal backoff of the session's own reconnect loop. `wake()` (a new certificate) cuts the wait
 * short; the first dial that gets through ends the refusal.
 */
export class RefusalBackoff {
  readonly #policy: Readonly<Required<RefusalBackoffOptions>>;
  readonly #onChange: (refusal: BrokerRefusal | undefined) => void;
  #refusal: BrokerRefusal | undefined;
  #refusedAttempts = 0;
  #retryAt: number | undefined;
  #pause: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | undefined;
  #closed = false;

  /** `onChange` hears each change of verdict (a refusal, another reason, `undefined`: accepted again). */
  constructor(options: RefusalBackoffOptions, onChange: (refusal: BrokerRefusal | undefined) => void) {
    this.#policy = verifyRefusalBackoff(options);
    this.#onChange = onChange;
  }

  /** The refusal standing now (the last attempt's, or an earlier one's when only the network failed since). */
  get refusal(): BrokerRefusal | undefined {
    return this.#refusal;
  }

  /** When the next attempt starts (ms since the epoch), while one waits. */
  get retryAt(): number | undefined {
    return this.#retryAt;
  }

  /** Runs `dial`, after the refusal's wait when the broker refused the last time. */
  async dial<T>(dial: () => Promise<T>): Promise<T> {
    if (this.#refusal !== undefined) await this.#sleep(this.#nextDelay());
    if (this.#closed) throw new ClosedError("the federation site");
    let result: T;
    try {
      result = await dial();
    } catch (error) {
      const refusal = brokerRefusalOf(error);
      if (refusal !== undefined) this.#set(refusal);
      throw error;
    }
    this.#refusedAttempts = 0;
    this.#set(undefined);
    return result;
  }

  /** Ends a refusal's wait now: what the broker refused has changed (a reloaded certificate). */
  wake(): void {
    this.#refusedAttempts = 0;
    this.#endPause();
  }

  /** Ends the wait and fails the dials from now on. */
  close(): void {
    this.#closed = true;
    this.#endPause();
  }

  #set(refusal: BrokerRefusal | undefined): void {
    const changed = refusal?.reason !== this.#refusal?.reason;
    this.#refusal = refusal;
    if (changed) this.#onChange(refusal);
  }

  #nextDelay(): number {
    const { firstDelayMs, maxDelayMs } = this.#policy;
    const exponent = Math.min(this.#refusedAttempts, 52);
    this.#refusedAttempts += 1;
    const bound = Math.min(maxDelayMs, firstDelayMs * 2 ** exponent);
    // Half the bound at least: a refused site must not fall back to knocking at once.
    return Math.floor(bound * (0.5 + Math.random() / 2));
  }

  #sleep(ms: number): Promise<void> {
    this.#endPause();
    this.#retryAt = Date.now() + ms;
    return new Promise((resolve) => {
      // unref: a site waiting out a refusal must not keep a process alive that is otherwise done.
      const timer = setTimeout(() => this.#endPause(), ms).unref();
      this.#pause = { timer, resolve };
    });
  }

  #endPause(): void {
    const pause = this.#pause;
    this.#pause = undefined;
    this.#retryAt = undefined;
    if (pause === undefined) return;
    clearTimeout(pause.timer);
    pause.resolve();
  }
}

/** Checks the options at `joinFederation`, so that a typo fails there and not at the first refusal. */
export function verifyRefusalBackoff(
  options: RefusalBackoffOptions,
): Readonly<Required<RefusalBackoffOptions>> {
  const policy = { ...REFUSAL_BACKOFF_DEFAULTS, ...options };
  for (const key of ["firstDelayMs", "maxDelayMs"] as const) {
    const value = policy[key];
    if (typeof value !== "number" || !Number.isFinite(value) || value < 0 || value > MAX_TIMER)
      throw new InvalidArgumentError(
        `refusedRetry.${key} must be a number of ms from 0 to ${MAX_TIMER}, got ${String(value)}`,
      );
  }
  if (policy.maxDelayMs < policy.firstDelayMs)
    throw new InvalidArgumentError(
      `refusedRetry.maxDelayMs (${policy.maxDelayMs}) must be >= refusedRetry.firstDelayMs (${policy.firstDelayMs})`,
    );
  return Object.freeze(policy);
}
