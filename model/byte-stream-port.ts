/**
 * The raw contract of one end of a byte stream (its port and what the port reports), apart from
 * `ByteStream` so that the ports that implement it need not import the stream.
 */
import type { StreamResetError } from "./errors.js";

/**
 * @internal The raw way through one end of a byte stream, for splices (a socket or another
 * stream joined to this end): a chunk costs a function call instead of the several promises of
 * the web streams, which dominated the CPU of a relay. {@link ByteStream.openPort} locks the
 * end's `readable` and `writable`, so an end is driven through its web streams or its port,
 * never both.
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
}

/** @internal What a {@link ByteStreamPort} reports to its splice. */
export interface ByteStreamSink {
  /** A chunk arrived; call `pause()` (now or later) to stop the flow. */
  data(chunk: Uint8Array): void;
  /** The other end finished sending; nothing more arrives. */
  end(): void;
  /** `write` may be called again. */
  drain(): void;
  /** The stream was reset (by either end, or its transport failed): both directions are over. */
  reset(error: StreamResetError): void;
}
