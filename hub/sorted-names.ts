/**
 * The registered names in sorted order, so that `list()` walks them in order without sorting
 * and `list({ prefix })` visits only the names that carry the prefix (in sorted order they sit
 * next to each other, starting where a binary search for the prefix lands).
 *
 * Sorted chunks of at most `MAX_CHUNK` names (the layout of Python's `sortedcontainers`): a
 * binary search over the chunks' last names, then one within a chunk; adding or removing moves
 * at most a chunk's worth of pointers. One flat sorted array was simpler, but every insert moved
 * up to the whole array: registering 50 000 names took ~1 s of memmove on these machines.
 * Order is JavaScript's default string order (UTF-16 code units), as `Array#sort()` gave before.
 */
const MAX_CHUNK = 1024;

export class SortedNames {
  /** Non-empty sorted chunks, each before the next: every name of one < every name of the next. */
  readonly #chunks: string[][] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Adds `name` (which must not be present). */
  add(name: string): void {
    const chunks = this.#chunks;
    if (chunks.length === 0) {
      chunks.push([name]);
      this.#size = 1;
      return;
    }
    // The first chunk whose last name is >= name, or the last chunk when name is the greatest.
    const at = Math.min(this.#chunkFor(name), chunks.length - 1);
    const chunk = chunks[at]!;
    chunk.splice(lowerBound(chunk, name), 0, name);
    this.#size += 1;
    if (chunk.length > MAX_CHUNK) chunks.splice(at + 1, 0, chunk.splice(MAX_CHUNK >> 1));
  }

  /** Removes `name`; does nothing if it is absent. */
  delete(name: string): void {
    const at = this.#chunkFor(name);
    const chunk = this.#chunks[at];
    if (chunk === undefined) return;
    const index = lowerBound(chunk, name);
    if (chunk[index] !== name) return;
    chunk.splice(index, 1);
    this.#size -= 1;
    if (chunk.length === 0) this.#chunks.splice(at, 1);
  }

  /**
   * Every name in order, or (with `prefix`) those starting with it. The caller must not add or
   * remove names while it iterates.
   */
  *withPrefix(prefix = ""): Generator<string> {
    const chunks = this.#chunks;
    for (let at = this.#chunkFor(prefix); at < chunks.length; at++) {
      const chunk = chunks[at]!;
      for (let index = lowerBound(chunk, prefix); index < chunk.length; index++) {
        const name = chunk[index]!;
        if (!name.startsWith(prefix)) return;
        yield name;
      }
    }
  }

  /** The first chunk whose last name is >= `name` (`chunks.length` when there is none). */
  #chunkFor(name: string): number {
    const chunks = this.#chunks;
    let low = 0;
    let high = chunks.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const chunk = chunks[middle]!;
      if (chunk[chunk.length - 1]! < name) low = middle + 1;
      else high = middle;
    }
    return low;
  }
}

/** The first index of sorted `names` whose name is >= `name`. */
function lowerBound(names: readonly string[], name: string): number {
  let low = 0;
  let high = names.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (names[middle]! < name) low = middle + 1;
    else high = middle;
  }
  return low;
}
