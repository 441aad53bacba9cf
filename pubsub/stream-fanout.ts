import { ByteStream, type ByteStreamPort } from "../model/byte-stream.js";
import { InvalidArgumentError, SubscriberTooSlowError } from "../model/errors.js";
import type { Lagged, LagPolicy } from "./types.js";

/** What the fan-out tells a `drop-oldest` subscriber about a gap in its copy of a broadcast. */
export type StreamLagged = Required<Lagged>;

/** One subscriber's copy of a broadcast: the hub's end of its stream and what is queued for it. */
interface Outlet {
  /** The hub's end: written here, read by the subscriber at the other end. */
  readonly end: ByteStream;
  readonly port: ByteStreamPort;
  readonly lag: LagPolicy;
  readonly ringBytes: number;
  readonly notice: (lagged: StreamLagged) => void;
  /** `drop-oldest`: chunks waiting for the subscriber's stream to drain, oldest first. */
  queue: Uint8Array[];
  queued: number;
  /** The last write was refused: waiting for the port's drain. */
  blocked: boolean;
  /** `wait`: cuts the subscriber when it stays blocked for the publish timeout. */
  timer: NodeJS.Timeout | undefined;
  /** Bytes handed to the subscriber's stream: where a gap sits in it. */
  written: number;
  /** The source ended: end the stream once the queue is empty. */
  ending: boolean;
  done: boolean;
}

/**
 * Byte-stream broadcast at the hub: reads the publisher's stream once and writes every chunk,
 * by reference (never copied), into one stream per subscriber, each under its subscription's
 * lag policy (conec's broadcast, with its choice for slow receivers):
 *
 * - `wait`: while a subscriber's stream refuses more, the publisher's stream is paused (its
 *   writes wait: the slowest `wait` subscriber sets the pace). One that stays full for the
 *   publish timeout is cut — its stream reset with `SubscriberTooSlowError` — and the rest go on.
 * - `drop-oldest`: chunks its stream refuses wait in a queue of up to `ringBytes`; past that the
 *   oldest are dropped, and it is told at once on its subscription: `{lagged, seq, bytes, at}`,
 *   `lagged` chunks (`bytes` bytes) are missing at byte offset `at` of its stream (notices with
 *   the same `at` are one gap growing, merged while unread).
 *
 * Memory per subscriber: its stream's buffer (64 KiB) plus, for `drop-oldest`, `ringBytes`
 * (chunks are shared, so N subscribers queueing the same chunk hold it once). A subscriber that
 * resets its stream leaves; what a subscriber writes to its end is read and discarded.
 */
export class StreamFanout {
  readonly #outlets = new Set<Outlet>();
  readonly #source: ByteStreamPort;
  /** `wait` outlets whose last write was refused: the source is paused while there are any. */
  #blocked = 0;
  #paused = false;
  #ended = false;

  /**
   * Takes over `source` (the hub's end of the publisher's stream; nothing is written back to
   * it). Throws `InvalidArgumentError` when someone already reads it.
   */
  constructor(
    source: ByteStream,
    readonly channel: string,
    private readonly timeout: number,
  ) {
    const port = source.openPort();
    if (port === undefined) {
      throw new InvalidArgumentError(
        `the byte stream to broadcast on "${channel}" is already in use (read, written or spliced)`,
      );
    }
    this.#source = port;
  }

  /** Subscribers being written to. */
  get size(): number {
    return this.#outlets.size;
  }

  /**
   * Adds a subscriber before {@link start}: returns the end it reads. `notice` receives the
   * gaps of a `drop-oldest` subscriber.
   */
  add(lag: LagPolicy, ringBytes: number, notice: (lagged: StreamLagged) => void): ByteStream {
    const [end, theirs] = ByteStream.pair();
    const port = end.openPort()!;
    const outlet: Outlet = {
      end,
      port,
      lag,
      ringBytes,
      notice,
      queue: [],
      queued: 0,
      blocked: false,
      timer: undefined,
      written: 0,
      ending: false,
      done: false,
    };
    this.#outlets.add(outlet);
    port.start({
      // A subscriber has nothing to say on a broadcast: what it writes is dropped.
      data: () => undefined,
      end: () => undefined,
      drain: () => this.#drained(outlet),
      reset: () => this.#remove(outlet),
    });
    return theirs;
  }

  /** The broadcast's seq in its channel (set by {@link start}). */
  seq = 0;

  /** Starts reading the publisher's stream as publication `seq` (call once, after the subscribers are added). */
  start(seq: number): void {
    this.seq = seq;
    const source = this.#source;
    source.start({
      data: (chunk) => this.#data(chunk),
      end: () => this.#end(),
      drain: () => undefined,
      reset: (error) => {
        this.#ended = true;
        for (const outlet of [...this.#outlets]) outlet.end.reset(error);
      },
    });
    // The hub sends nothing to the publisher: its reading side ends at once.
    source.end();
  }

  #data(chunk: Uint8Array): void {
    if (chunk.byteLength === 0) return;
    for (const outlet of this.#outlets) {
      if (outlet.lag === "wait") this.#writeWait(outlet, chunk);
      else this.#offerDropping(outlet, chunk);
    }
    if (this.#blocked > 0 && !this.#paused) {
      this.#paused = true;
      this.#source.pause();
    }
  }

  #writeWait(outlet: Outlet, chunk: Uint8Array): void {
    outlet.written += chunk.byteLength;
    // Refused, the chunk is taken anyway: the stream's buffer goes past its mark by one chunk.
    if (outlet.port.write(chunk) || outlet.blocked) return;
    outlet.blocked = true;
    this.#blocked++;
    if (this.timeout > 0) {
      outlet.timer = setTimeout(() => {
        outlet.timer = undefined;
        outlet.end.reset(new SubscriberTooSlowError(this.channel, this.seq, this.timeout));
        this.#remove(outlet);
      }, this.timeout);
    }
  }

  #offerDropping(outlet: Outlet, chunk: Uint8Array): void {
    if (!outlet.blocked) {
      this.#writeDropping(outlet, chunk);
      return;
    }
    outlet.queue.push(chunk);
    outlet.queued += chunk.byteLength;
    // The oldest go first; the newest chunk is always kept, whatever its size.
    while (outlet.queued > outlet.ringBytes && outlet.queue.length > 1) {
      const dropped = outlet.queue.shift()!;
      outlet.queued -= dropped.byteLength;
      // Told at once (a subscriber learns it lags while it lags): every drop until the next
      // write is at the same offset, one gap, and the subscription merges such notices.
      outlet.notice({ lagged: 1, seq: this.seq, bytes: dropped.byteLength, at: outlet.written });
    }
  }

  #writeDropping(outlet: Outlet, chunk: Uint8Array): void {
    outlet.written += chunk.byteLength;
    if (!outlet.port.write(chunk)) outlet.blocked = true;
  }

  #drained(outlet: Outlet): void {
    if (!outlet.blocked || outlet.done) return;
    outlet.blocked = false;
    if (outlet.lag === "wait") {
      clearTimeout(outlet.timer);
      outlet.timer = undefined;
      this.#unblocked();
      return;
    }
    while (outlet.queue.length > 0 && !outlet.blocked) {
      const chunk = outlet.queue.shift()!;
      outlet.queued -= chunk.byteLength;
      this.#writeDropping(outlet, chunk);
    }
    if (outlet.ending && outlet.queue.length === 0) this.#finish(outlet);
  }

  #unblocked(): void {
    if (--this.#blocked === 0 && this.#paused && !this.#ended) {
      this.#paused = false;
      this.#source.resume();
    }
  }

  #end(): void {
    this.#ended = true;
    for (const outlet of [...this.#outlets]) {
      if (outlet.queue.length > 0) outlet.ending = true;
      else this.#finish(outlet);
    }
  }

  /** Everything was handed to the subscriber's stream: it ends after what it buffers. */
  #finish(outlet: Outlet): void {
    outlet.port.end();
    this.#remove(outlet);
  }

  #remove(outlet: Outlet): void {
    if (outlet.done) return;
    outlet.done = true;
    this.#outlets.delete(outlet);
    clearTimeout(outlet.timer);
    outlet.queue = [];
    outlet.queued = 0;
    if (outlet.blocked && outlet.lag === "wait") {
      outlet.blocked = false;
      this.#unblocked();
    }
  }
}
