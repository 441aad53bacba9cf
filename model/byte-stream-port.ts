/**
 * The raw contract of one end of a byte stream (its port and what the port reports), apart from
 * `ByteStream` so that the ports that implement it need not import the stream. Public: an
 * application that opens many streams, or moves many small chunks, can drive its ends through
 * their ports instead of their web streams.
 */
import type { StreamResetError } from "./errors.js";

/**
 * The raw way through one end of a byte stream, without web streams: a chunk costs a function
 * call instead of the several promises of the web streams, and an end driven only through its
 * port never makes a `ReadableStream` or `WritableStream` (on Node 20 the pair costs ~20–40 µs of
 * CPU to make, most of a stream open's cost; issue 19). Splices (a socket or another stream joined
 * to the end) use it, and so may applications where stream opens or chunks are hot.
 * {@link ByteStream.openPort} locks the end's `readable` and `writable`, so an end is driven
 * through its web streams or its port, never both.
 *
 * Backpressure is Node-style: `write` returns false when the caller should wait for the sink's
 * `drain`; `pause`/`resume` hold back what arrives, and the end's window then holds the writer at
 * the other end back. Half-close is `end()`; a reset is `ByteStream.reset()`.
 *
 * Implement the sink as a class (not an object literal of arrow functions) where streams are
 * opened at a high rate: V8 may put what a literal site allocates straight into the old
 * generation, and an old sink whose closures reach the stream keeps it alive until the next full
 * collection — measured at several times the CPU per stream open.
 *
 * @example
 * ```ts
 * // echo: what arrives is sent back, the end when the peer's end arrives
 * const port = stream.openPort();
 * if (port === undefined) throw new Error("the stream is already in use");
 * port.start({
 *   data: (chunk) => { if (!port.write(chunk)) port.pause(); },
 *   drain: () => port.resume(),
 *   end: () => port.end(),
 *   reset: (error) => console.error(error),
 * });
 * ```
 */
export interface ByteStreamPort {
  /** Starts delivering what arrives at this end to `sink`. Call once. */
  start(sink: ByteStreamSink): void;
  /** Stops delivery; the writer at the other end is held back by the end's window. */
  pause(): void;
  /** Resumes delivery (no-op unless paused). */
  resume(): void;
  /**
   * Sends `chunk` from this end. Returns false when the caller should wait for the sink's
   * `drain` before writing more (the chunk is taken anyway). Chunks move by reference.
   */
  write(chunk: Uint8Array): boolean;
  /** Half-closes this end's sending direction once everything written has left. */
  end(): void;
  /**
   * Optional: the writer feeding this port finished, and what it still holds back (paused) is
   * the last of it; `end()` follows. A port whose bytes wait for credit then counts them as owed
   * to the peer: a closing session waits for them (`WireConnection.closeWhenSent`).
   */
  ending?(): void;
}

/** What a {@link ByteStreamPort} reports to whoever drives it (`port.start(sink)`). */
export interface ByteStreamSink {
  /** A chunk arrived; call `pause()` (now or later) to stop the flow. */
  data(chunk: Uint8Array): void;
  /** The other end finished sending; nothing more arrives. */
  end(): void;
  /**
   * Optional: the other end finished sending while this sink held delivery back (paused): what
   * is still to come is the last, `end()` follows it.
   */
  ending?(): void;
  /** `write` may be called again. */
  drain(): void;
  /** The stream was reset (by either end, or its transport failed): both directions are over. */
  reset(error: StreamResetError): void;
}
