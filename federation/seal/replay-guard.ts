import { ReplayError } from "./errors.js";

/** Options of `ReplayGuard`. */
export interface ReplayGuardOptions {
  /** How far a message's timestamp may be from now, either way, in ms (default 300 000). */
  window?: number;
  /** The most message ids remembered at once (default 200 000, ~60 bytes each). */
  capacity?: number;
}

/**
 * Refuses a sealed message seen before. Ids are remembered for as long as their timestamp is
 * inside the window, and messages stamped outside it are refused outright, so memory stays bounded
 * by the rate of messages times the window. When full, new messages are refused rather than
 * forgetting a live id: forgetting would reopen a replay.
 */
export class ReplayGuard {
  readonly window: number;
  readonly capacity: number;
  /** id → the time after which it can be forgotten; Map keeps insertion order for pruning. */
  readonly #seen = new Map<string, number>();

  constructor(options: ReplayGuardOptions = {}) {
    this.window = options.window ?? 300_000;
    this.capacity = options.capacity ?? 200_000;
  }

  /** Records `id` stamped at `time`, or throws `ReplayError`. */
  check(id: string, time: number, now = Date.now()): void {
    if (!(Math.abs(now - time) <= this.window))
      throw new ReplayError(
        `message ${id} is stamped ${new Date(time).toISOString()}, outside the replay window`,
      );
    this.#prune(now);
    if (this.#seen.has(id)) throw new ReplayError(`message ${id} was already received (replay)`);
    if (this.#seen.size >= this.capacity)
      throw new ReplayError(`the replay guard is full (${this.capacity} ids in the window)`);
    this.#seen.set(id, time + this.window);
  }

  /** How many ids are remembered. */
  get size(): number {
    return this.#seen.size;
  }

  #prune(now: number): void {
    for (const [id, forgetAfter] of this.#seen) {
      if (forgetAfter >= now) break;
      this.#seen.delete(id);
    }
  }
}
