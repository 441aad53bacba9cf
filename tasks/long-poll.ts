import { TaskLimitError } from "./errors.js";

/** What a long poll listens to: a change under one of `keys` calls the listener (a TaskStore, the socket broker). */
export interface ChangeSource {
  listen(keys: readonly string[], listener: () => void): () => void;
}

/** Samply.Beam's long-poll parameters: wait for `count` items, or for `timeMs`, or both (whichever first). */
export interface WaitCondition {
  count?: number;
  timeMs?: number;
}

/** What an answer holds now: the items to return, and how many of them count towards `count`. */
export interface Snapshot<T> {
  items: T[];
  counted: number;
}

/** The answer of a long poll; `partial` is Samply's 206: fewer items than `count` asked for. */
export interface PollAnswer<T> {
  items: T[];
  partial: boolean;
}

/** A `count` without a time waits at most this long (Samply's hour, which its README calls "forever"). */
export const MAX_WAIT_MS = 3_600_000;

/** Bounds the number of requests waiting at once; one more is refused with 429. */
export class WaiterBudget {
  #waiting = 0;
  constructor(readonly max: number) {}

  get waiting(): number {
    return this.#waiting;
  }

  enter(): () => void {
    if (this.#waiting >= this.max) throw new TaskLimitError(`${this.max} requests are already waiting`);
    this.#waiting++;
    let left = false;
    return () => {
      if (!left) this.#waiting--;
      left = true;
    };
  }
}

/**
 * Answers at once when no wait was asked for; otherwise waits — woken by changes under `keys`,
 * not by polling — until `count` items count, the time is over, or `signal` aborts (the client
 * went away). Only `timeMs`: waits the whole time, as Samply does.
 */
export async function longPoll<T>(
  store: ChangeSource,
  keys: readonly string[],
  evaluate: () => Snapshot<T>,
  wait: WaitCondition,
  budget: WaiterBudget,
  signal?: AbortSignal,
): Promise<PollAnswer<T>> {
  const answer = (): PollAnswer<T> => {
    const { items } = evaluate();
    return { items, partial: wait.count !== undefined && items.length < wait.count };
  };
  if (wait.count === undefined && wait.timeMs === undefined) return answer();
  if (wait.count !== undefined && evaluate().counted >= wait.count) return answer();
  const leave = budget.enter();
  try {
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        stopListening();
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const timer = setTimeout(done, Math.min(wait.timeMs ?? MAX_WAIT_MS, MAX_WAIT_MS));
      const stopListening =
        wait.count === undefined
          ? () => {}
          : store.listen(keys, () => {
              if (evaluate().counted >= wait.count!) done();
            });
      if (signal?.aborted === true) done();
      else signal?.addEventListener("abort", done, { once: true });
    });
  } finally {
    leave();
  }
  return answer();
}
