/**
 * Listeners by key, for long polls: a poll listens on the keys whose change could answer it
 * (`app:<id>`, `task:<id>`), and a change wakes the listeners of its key. A listener may stop
 * listening while being woken.
 */
export class WakeListeners {
  readonly #listeners = new Map<string, Set<() => void>>();

  /** Calls `listener` after every change under one of `keys`; returns the function that stops it. */
  listen(keys: readonly string[], listener: () => void): () => void {
    for (const key of keys) {
      let set = this.#listeners.get(key);
      if (set === undefined) this.#listeners.set(key, (set = new Set()));
      set.add(listener);
    }
    return () => {
      for (const key of keys) {
        const set = this.#listeners.get(key);
        set?.delete(listener);
        if (set?.size === 0) this.#listeners.delete(key);
      }
    };
  }

  /** Wakes every listener of `key`. */
  wake(key: string): void {
    const set = this.#listeners.get(key);
    if (set === undefined) return;
    for (const listener of [...set]) listener();
  }
}
