/** Seconds the rate is averaged over. */
const WINDOW = 10;

/**
 * Messages per second over the last {@link WINDOW} seconds, from one counter per second: O(1)
 * per message and a fixed few bytes per channel, whatever the rate.
 */
export class RateMeter {
  readonly #counts = new Array<number>(WINDOW).fill(0);
  /** The second (since the epoch) that `#counts[#second % WINDOW]` counts. */
  #second = 0;

  constructor(private readonly now: () => number = Date.now) {}

  mark(): void {
    this.#advance();
    this.#counts[this.#second % WINDOW]! += 1;
  }

  /** Messages per second over the last full window (the current second included). */
  get rate(): number {
    this.#advance();
    let total = 0;
    for (const count of this.#counts) total += count;
    return total / WINDOW;
  }

  #advance(): void {
    const second = Math.floor(this.now() / 1000);
    if (second === this.#second) return;
    // Clear the slots of the seconds that passed without a message (all of them after a long pause).
    const gap = Math.min(second - this.#second, WINDOW);
    for (let i = 1; i <= gap; i++) this.#counts[(this.#second + i) % WINDOW] = 0;
    this.#second = second;
  }
}
