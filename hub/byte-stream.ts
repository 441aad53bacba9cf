import { Attachable } from "../codecs/reference.js";
import { countClosed, countOpen } from "./attachments.js";
import { StreamResetError } from "./errors.js";
import { Queue } from "./queue.js";
import { Owners, type Ownable, type Scope } from "./scope.js";

/** Options of `ByteStream.pair`. */
export interface ByteStreamOptions {
  /**
   * Bytes buffered per direction before the writer waits for the reader (default 64 KiB):
   * a slow reader slows the writer, nothing buffers without bound.
   */
  highWaterMark?: number;
}

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;

/**
 * One end of a bidirectional byte stream, shaped like WebTransport's bidirectional stream:
 * `readable` yields what the other end writes, `writable` sends to it. Backpressure is the web
 * streams' own (`await writer.write()` waits while the reader is behind), half-close is
 * `writable.close()` (the other side's reads end), and `reset()` aborts both directions (the
 * other side's reads and writes fail with `StreamResetError`).
 *
 * In Node, `stream.Duplex.fromWeb(byteStream)` turns an end into a Duplex for `pipe()`.
 */
export class ByteStream extends Attachable implements Ownable {
  readonly refKind = "stream" as const;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Settles when both directions of this end are finished or the stream was reset. */
  readonly closed: Promise<void>;

  readonly #owners = new Owners();
  readonly #onReset: (reason: unknown) => void;
  #readDone = false;
  #writeDone = false;
  #closed = false;
  #resolveClosed!: () => void;

  /**
   * Wraps a readable and a writable as one end. `onReset` must abort both directions at the
   * far side too. Applications use `ByteStream.pair()`; transports build ends from their frames
   * and report direction completion through `readFinished`/`writeFinished`.
   */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    onReset: (reason: unknown) => void,
  ) {
    super();
    this.readable = readable;
    this.writable = writable;
    this.#onReset = onReset;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    countOpen();
  }

  /** Creates two connected ends: bytes written to one are read from the other. */
  static pair(options: ByteStreamOptions = {}): [ByteStream, ByteStream] {
    const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    const ends: ByteStream[] = [];
    const aToB = memoryPipe(highWaterMark, {
      writeDone: () => ends[0]!.writeFinished(),
      readDone: () => ends[1]!.readFinished(),
    });
    const bToA = memoryPipe(highWaterMark, {
      writeDone: () => ends[1]!.writeFinished(),
      readDone: () => ends[0]!.readFinished(),
    });
    const reset = (reason: unknown): void => {
      const error =
        reason instanceof StreamResetError ? reason : new StreamResetError("reset by peer", reason);
      aToB.reset(error);
      bToA.reset(error);
    };
    const a = new ByteStream(bToA.readable, aToB.writable, reset);
    const b = new ByteStream(aToB.readable, bToA.writable, reset);
    ends.push(a, b);
    return [a, b];
  }

  /** True once both directions finished or the stream was reset. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /**
   * Aborts both directions at both ends: pending and later reads and writes fail with
   * `StreamResetError`. Use it to give up; use `writable.close()` to finish normally.
   */
  reset(reason?: unknown): void {
    if (this.#closed) return;
    this.#onReset(reason instanceof StreamResetError ? reason : new StreamResetError("reset", reason));
    this.readFinished();
    this.writeFinished();
  }

  /** Closing an owner resets the stream unless it already finished. */
  close(reason?: unknown): void {
    this.reset(reason ?? new StreamResetError("its owner closed"));
  }

  /** @internal Scopes call this when they start owning the stream. */
  addOwner(owner: Scope): void {
    this.#owners.add(owner);
  }

  /** @internal The readable side finished (ended, cancelled or errored). */
  readFinished(): void {
    this.#readDone = true;
    this.#maybeClosed();
  }

  /** @internal The writable side finished (closed, aborted or errored). */
  writeFinished(): void {
    this.#writeDone = true;
    this.#maybeClosed();
  }

  #maybeClosed(): void {
    if (this.#closed || !this.#readDone || !this.#writeDone) return;
    this.#closed = true;
    this.#owners.leaveAll(this);
    countClosed();
    this.#resolveClosed();
  }
}

/** One direction of an in-memory byte stream. */
interface Pipe {
  readable: ReadableStream<Uint8Array>;
  writable: WritableStream<Uint8Array>;
  /** Errors both sides with `error`, whoever holds their locks. */
  reset(error: StreamResetError): void;
}

/**
 * A writable connected to a readable with a bounded buffer: `write` resolves only while fewer
 * than `highWaterMark` bytes wait unread, so the writer runs at the reader's pace. The pipe
 * keeps its own queue and hands chunks to the readable one read at a time (the readable's own
 * high-water mark is 0), so it knows exactly when the last byte was taken after a close.
 * Chunks move by reference; a writer must not modify a chunk after writing it.
 */
function memoryPipe(highWaterMark: number, done: { writeDone: () => void; readDone: () => void }): Pipe {
  let reader!: ReadableStreamDefaultController<Uint8Array>;
  let writer!: WritableStreamDefaultController;
  const queue = new Queue<Uint8Array>();
  let queuedBytes = 0;
  let writerClosed = false;
  let finished = false;
  let wakeWriter: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;

  const finish = (): void => {
    if (finished) return;
    finished = true;
    done.writeDone();
    done.readDone();
  };
  /** Hands the reader one chunk, or the end of the stream; false when there is nothing yet. */
  const feed = (): boolean => {
    const chunk = queue.shift();
    if (chunk !== undefined) {
      queuedBytes -= chunk.byteLength;
      reader.enqueue(chunk);
      if (queuedBytes < highWaterMark && wakeWriter) {
        const resume = wakeWriter;
        wakeWriter = undefined;
        resume();
      }
      return true;
    }
    if (writerClosed) {
      reader.close();
      done.readDone();
      return true;
    }
    return false;
  };

  const readable = new ReadableStream<Uint8Array>(
    {
      start: (controller) => {
        reader = controller;
      },
      pull: () => {
        if (feed()) return undefined;
        return new Promise<void>((resolve) => {
          wakeReader = () => {
            wakeReader = undefined;
            feed();
            resolve();
          };
        });
      },
      cancel: (reason) => {
        if (finished) return;
        writer.error(new StreamResetError("the reader cancelled", reason));
        wakeWriter?.();
        finish();
      },
    },
    { highWaterMark: 0 },
  );

  const writable = new WritableStream<Uint8Array>({
    start: (controller) => {
      writer = controller;
    },
    write: (chunk) => {
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError("a byte stream carries Uint8Array chunks");
      }
      if (finished) throw new StreamResetError("the reader is gone");
      queue.push(chunk);
      queuedBytes += chunk.byteLength;
      wakeReader?.();
      if (queuedBytes < highWaterMark) return undefined;
      return new Promise<void>((resolve) => (wakeWriter = resolve));
    },
    close: () => {
      writerClosed = true;
      done.writeDone();
      wakeReader?.();
    },
    abort: (reason) => {
      if (finished) return;
      reader.error(
        reason instanceof StreamResetError ? reason : new StreamResetError("the writer aborted", reason),
      );
      finish();
    },
  });

  return {
    readable,
    writable,
    reset: (error) => {
      if (finished) return;
      queue.drain();
      try {
        reader.error(error);
      } catch {
        // the readable already ended; nothing to tell it
      }
      writer.error(error);
      wakeWriter?.();
      finish();
    },
  };
}
