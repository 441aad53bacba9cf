/**
 * A cancellation that costs nothing until someone looks at it.
 *
 * Every request and call has an "answerer side" that must learn when its requester stops
 * waiting. An `AbortController` per request was the largest single cost of a call across a
 * transport (creating the signal, adding listeners), although almost no handler looks at it.
 * This keeps plain callbacks (`onCancel`) for the internal plumbing and creates the
 * `AbortSignal` only when a handler actually reads `signal`.
 */
export interface Cancelable {
  /** Aborted when the requester stops waiting (created on first access). */
  readonly signal: AbortSignal;
  /** Calls `listener` once when cancelled (at once if already cancelled). */
  onCancel(listener: (reason: unknown) => void): void;
}

type Listener = (reason: unknown) => void;

/** The {@link Cancelable} of one request: cancelled once, by the side that stops waiting. */
export class Cancellation implements Cancelable {
  #listeners: Listener | Listener[] | undefined;
  #controller: AbortController | undefined;
  #cancelled = false;
  #reason: unknown;

  get cancelled(): boolean {
    return this.#cancelled;
  }

  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController();
      if (this.#cancelled) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  onCancel(listener: Listener): void {
    if (this.#cancelled) {
      listener(this.#reason);
      return;
    }
    const listeners = this.#listeners;
    if (listeners === undefined) this.#listeners = listener;
    else if (typeof listeners === "function") this.#listeners = [listeners, listener];
    else listeners.push(listener);
  }

  /** Cancels once: aborts the signal (if anyone made it) and calls the listeners. */
  cancel(reason: unknown): void {
    if (this.#cancelled) return;
    this.#cancelled = true;
    this.#reason = reason;
    this.#controller?.abort(reason);
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (typeof listeners === "function") listeners(reason);
    else if (listeners !== undefined) for (const listener of listeners) listener(reason);
  }

  /** Forgets the listeners without calling them (the request completed normally). */
  settle(): void {
    this.#listeners = undefined;
  }
}

/** A cancellation that never happens, for requests nobody can cancel. */
export const NEVER_CANCELLED: Cancelable = {
  signal: new AbortController().signal,
  onCancel: () => undefined,
};
