/**
 * The delivery loop of a raw reader (a port's sink, a pipe's reader), shared by the in-memory
 * pipe (`memory-pipe.ts`) and a byte stream's wire end (`wire/stream-proxy.ts`): one copy of the
 * ordering rule both depend on.
 * @module
 */

/** What the loop hands chunks to. */
export interface ChunkReader {
  data(chunk: Uint8Array): void;
  end(): void;
}

/**
 * Hands a raw reader the queued chunks in order, then the end once it is due, and stops while the
 * reader may not take more (paused, failed). A subclass says where the chunks come from; the loop
 * is re-entrant safe: a chunk written, or a `resume()`, while the reader handles a chunk is picked
 * up by the loop already running (the inner call returns at once), so no chunk overtakes another
 * and the stack does not grow per chunk.
 */
export abstract class ChunkDelivery {
  #delivering = false;

  /** The reader to hand the next chunk to, or undefined to stop now (paused, failed, none yet). */
  protected abstract deliveryReader(): ChunkReader | undefined;

  /** Takes the next queued chunk off the queue, with its accounting; undefined when empty. */
  protected abstract takeChunk(): Uint8Array | undefined;

  /** The queue is empty: hands `reader` the end if it is due and was not handed yet. */
  protected abstract deliverEnd(reader: ChunkReader): void;

  /** Runs the loop (or lets the running one go on). */
  protected deliver(): void {
    if (this.#delivering) return;
    this.#delivering = true;
    try {
      for (;;) {
        const reader = this.deliveryReader();
        if (reader === undefined) return;
        const chunk = this.takeChunk();
        if (chunk === undefined) return this.deliverEnd(reader);
        reader.data(chunk);
      }
    } finally {
      this.#delivering = false;
    }
  }
}
