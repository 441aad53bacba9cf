/**
 * A token bucket: `perSecond` frames a second, in bursts of as many. `take()` says whether a
 * frame may go now; `wait()` how long until one may (ms).
 */
export class FrameRate {
  readonly #perSecond: number;
  #tokens: number;
  #at: number;

  constructor(perSecond: number, now = Date.now()) {
    this.#perSecond = perSecond;
    this.#tokens = perSecond;
    this.#at = now;
  }

  /** Takes a token if there is one. */
  take(now = Date.now()): boolean {
    this.#refill(now);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  /** Milliseconds until the next token. */
  wait(now = Date.now()): number {
    this.#refill(now);
    return this.#tokens >= 1 ? 0 : Math.ceil(((1 - this.#tokens) * 1000) / this.#perSecond);
  }

  #refill(now: number): void {
    this.#tokens = Math.min(this.#perSecond, this.#tokens + ((now - this.#at) * this.#perSecond) / 1000);
    this.#at = now;
  }
}
