/** Slots a table starts with, and the most it grows to before collisions go to a `Map`. */
const INITIAL_SLOTS = 16;
const MAX_SLOTS = 4096;
/** The storage of a table that never held anything (most channels never carry a request). */
const NO_IDS = new Uint32Array(1);
const NO_VALUES: undefined[] = [undefined];

/**
 * Requests in flight by request id: an array indexed by the id's low bits, with a `Map` only
 * for the rare id whose slot a long-lived request still holds.
 *
 * Request ids are handed out in sequence, so the ids in flight at once occupy distinct slots.
 * A `Map` with this much churn is costly in a subtle way: every rehash leaves the old table
 * pointing to the new one, with the requests that were live at that moment still in it. Once
 * one such table is in the old generation, that chain keeps every request since then alive
 * through the young-generation collections, so nearly all of them were promoted (measured: a
 * fifth of the caller's time went to the garbage collector).
 */
export class IdTable<T> {
  #ids = NO_IDS;
  #values: (T | undefined)[] = NO_VALUES;
  #mask = 0;
  #overflow: Map<number, T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(id: number): T | undefined {
    const slot = id & this.#mask;
    if (this.#ids[slot] === id) {
      const value = this.#values[slot];
      if (value !== undefined) return value;
    }
    return this.#overflow?.get(id);
  }

  /** Adds `value` under `id`, which must not be in the table. */
  set(id: number, value: T): void {
    if (this.#values === NO_VALUES) this.#allocate(INITIAL_SLOTS);
    this.#size++;
    for (;;) {
      const slot = id & this.#mask;
      if (this.#values[slot] === undefined) {
        this.#ids[slot] = id;
        this.#values[slot] = value;
        return;
      }
      if (this.#values.length >= MAX_SLOTS) {
        (this.#overflow ??= new Map()).set(id, value);
        return;
      }
      this.#grow();
    }
  }

  /** Removes `id`; returns whether it was in the table. */
  delete(id: number): boolean {
    const slot = id & this.#mask;
    if (this.#ids[slot] === id && this.#values[slot] !== undefined) {
      this.#values[slot] = undefined;
      this.#size--;
      return true;
    }
    if (this.#overflow?.delete(id) === true) {
      this.#size--;
      return true;
    }
    return false;
  }

  /** What the table holds, as an array (a snapshot: changes to the table do not affect it). */
  values(): T[] {
    const found: T[] = [];
    if (this.#size === 0) return found;
    for (const value of this.#values) if (value !== undefined) found.push(value);
    if (this.#overflow !== undefined) for (const value of this.#overflow.values()) found.push(value);
    return found;
  }

  /** Empties the table; returns what it held. */
  takeAll(): T[] {
    const taken: T[] = [];
    if (this.#size === 0) return taken;
    for (let slot = 0; slot < this.#values.length; slot++) {
      const value = this.#values[slot];
      if (value !== undefined) {
        taken.push(value);
        this.#values[slot] = undefined;
      }
    }
    if (this.#overflow !== undefined) {
      for (const value of this.#overflow.values()) taken.push(value);
      this.#overflow = undefined;
    }
    this.#size = 0;
    return taken;
  }

  #allocate(slots: number): void {
    this.#ids = new Uint32Array(slots);
    this.#values = new Array<T | undefined>(slots).fill(undefined);
    this.#mask = slots - 1;
  }

  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    this.#allocate(values.length * 2);
    for (let slot = 0; slot < values.length; slot++) {
      const value = values[slot];
      if (value !== undefined) {
        // Ids in distinct slots stay in distinct slots when the mask gains a bit.
        const id = ids[slot]!;
        this.#ids[id & this.#mask] = id;
        this.#values[id & this.#mask] = value;
      }
    }
  }
}
