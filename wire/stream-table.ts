import type { MemoryBudget } from "./memory-budget.js";
import type { SessionIds } from "./session-ids.js";
import type { StreamProxy } from "./stream-proxy.js";

/**
 * The byte streams open on a session, by id, with how many each side opened (`maxStreams`
 * bounds the peer's, the peer's HELLO this side's). Bytes a stream received and did not yet
 * return as credit are counted in the memory budget until it is forgotten.
 */
export class StreamTable {
  readonly #streams = new Map<number, StreamProxy>();
  /** Streams open now that the peer opened, and that this side opened. */
  peerCount = 0;
  ownCount = 0;

  constructor(
    private readonly ids: SessionIds,
    private readonly budget: MemoryBudget,
  ) {}

  get size(): number {
    return this.#streams.size;
  }

  get(id: number): StreamProxy | undefined {
    return this.#streams.get(id);
  }

  add(proxy: StreamProxy): void {
    this.#streams.set(proxy.id, proxy);
    if (this.ids.isPeer(proxy.id)) this.peerCount++;
    else this.ownCount++;
  }

  /** Removes stream `id` (both directions finished, reset, or the session ended). */
  forget(id: number): void {
    const proxy = this.#streams.get(id);
    if (proxy === undefined) return;
    this.#streams.delete(id);
    // What arrived and was not returned as credit is no longer buffered here.
    this.budget.add(-proxy.unreturnedCredit);
    if (this.ids.isPeer(id)) this.peerCount--;
    else this.ownCount--;
  }

  /** Bytes of finished writers that wait for the peer's credit (see `StreamProxy.owedBytes`). */
  owedBytes(): number {
    let bytes = 0;
    for (const proxy of this.#streams.values()) bytes += proxy.owedBytes;
    return bytes;
  }

  /** Forgets every stream; returns them (for the caller to fail). */
  takeAll(): StreamProxy[] {
    const all = [...this.#streams.values()];
    for (const stream of all) this.forget(stream.id);
    return all;
  }
}
