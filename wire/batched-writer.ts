import type { ByteTransport } from "./byte-transport.js";
import type { Congestion } from "./congestion.js";
import { Outbox } from "./outbox.js";

/**
 * Frames queued before the first batch of a turn of the event loop is written without waiting
 * for the end of the turn; each further batch in the same turn waits for twice as many.
 */
const FIRST_SLICE_FRAMES = 16;
/** Bytes queued before a batch is written without waiting for the end of the turn. */
const FLUSH_EVERY_BYTES = 512 * 1024;

/**
 * Writes a session's frames to its transport in batches: frames are queued in an `Outbox` and
 * written at the end of a turn of the event loop, or in growing slices during a long burst —
 * one system call for many small frames is what makes small messages cheap. fds ride with the
 * first byte of a batch, so a frame that carries fds starts a new one.
 */
export class BatchedWriter {
  readonly outbox = new Outbox();
  /** Whether the end-of-turn flush (`#flushLater`) is scheduled. */
  #flushScheduled = false;
  /** The frames of the turn's next slice (see `queued`). */
  #sliceFrames = FIRST_SLICE_FRAMES;
  /** What went to the transport so far (the session's traffic counters). */
  readonly sent = { bytes: 0, frames: 0, fds: 0 };

  constructor(
    private readonly transport: ByteTransport,
    private readonly congestion: Congestion,
  ) {
    if (transport.releasesChunks === true) this.outbox.released = () => transport.bufferedBytes === 0;
  }

  /** fds ride with the first byte of a batch: the frames queued before them go out first. */
  startBatchWithFds(fds: readonly number[]): void {
    if (this.outbox.frames > 0) this.flush();
    this.outbox.addFds(fds);
  }

  /** After a frame was queued: write the batch now if it is long, else at the end of the turn. */
  queued(): void {
    const outbox = this.outbox;
    // EVENTs do not count toward a slice: a fan-out queues up to a window of them on each of
    // many sessions in one turn, and a write per 16-32 of them was half the hub's CPU per
    // delivery (a sendmsg that wakes the subscriber, 10-30 µs each here); the peer's credit
    // and FLUSH_EVERY_BYTES bound what waits for the end of the turn.
    if (outbox.frames - outbox.eventFrames >= this.#sliceFrames || outbox.bytes >= FLUSH_EVERY_BYTES) {
      // A long burst (replies to a batch of requests) goes out in slices, so that the peer
      // starts on the first ones while this side produces the rest: both processes work at
      // once instead of taking turns. Each slice is twice the last: a write that wakes a
      // sleeping peer costs 10-20 µs of system time here, and a peer busy with a longer slice
      // needs no waking (measured with 100 calls in flight: ~15% more calls/s than fixed
      // slices of 16, with the same first slice).
      this.#sliceFrames *= 2;
      this.flush();
      this.transport.flush?.();
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  /** Writes what is queued now. */
  flush(): void {
    const outbox = this.outbox;
    if (outbox.frames === 0) return;
    const answerBytes = outbox.bytes - outbox.creditedBytes;
    const sent = this.sent;
    sent.bytes += outbox.bytes;
    sent.frames += outbox.frames;
    const { chunks, fds } = outbox.take();
    sent.fds += fds.length;
    this.congestion.wrote(answerBytes, this.transport.write(chunks, fds) !== false);
  }

  /** Bytes queued here and in the transport, not yet taken by the OS. */
  get unsentBytes(): number {
    return this.outbox.bytes + (this.transport.bufferedBytes ?? 0);
  }

  /** The end of a turn: what is queued goes out, and the next turn starts with a short slice. */
  readonly #flushLater = (): void => {
    this.#flushScheduled = false;
    this.#sliceFrames = FIRST_SLICE_FRAMES;
    this.flush();
  };
}
