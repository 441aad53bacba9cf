/**
 * One direction of an in-memory byte stream (`ByteStream.pair()`): a bounded buffer between a
 * writer and a reader. Either side is driven through its web stream or raw, by a splice
 * (`ByteStreamPort`), and the two can be mixed: a raw writer feeding a web reader, and so on.
 */
import { ChunkDelivery } from "./chunk-delivery.js";
import { StreamResetError } from "./errors.js";
import { Queue } from "./queue.js";

/** What a raw reader of a pipe is told. */
export interface PipeReader {
  data(chunk: Uint8Array): void;
  end(): void;
  /** The writer closed while this reader is paused: what is held back is the last, `end` follows. */
  ending?(): void;
}

/** One direction of an in-memory byte stream. */
export interface Pipe {
  /** The reading side as a web stream, made on first use (an idle pipe holds none). */
  readonly readable: ReadableStream<Uint8Array>;
  /** The writing side as a web stream, made on first use. */
  readonly writable: WritableStream<Uint8Array>;
  /** Names the ends the pipe joins (call once, before anything flows): they are told when their side finishes. */
  join(writerEnd: PipeWriterEnd, readerEnd: PipeReaderEnd): void;
  /** Errors both sides with `error`, whoever holds their locks; tells raw users (`writerFailed`, `readerFailed`). */
  reset(error: StreamResetError): void;
  /** Raw writer: queues `chunk`; false once the buffer is at its high-water mark (wait for `drained`). */
  write(chunk: Uint8Array): boolean;
  /** Raw writer: no more chunks. */
  end(): void;
  /** Raw reader: delivers every chunk, then the end, to `reader` from now on. */
  readInto(reader: PipeReader): void;
  pause(): void;
  resume(): void;
  /** Raw writer: called when `write` may be called again. */
  drained: (() => void) | undefined;
  /** A raw writer's callback, called once when the pipe fails (reset, a cancelled reader, an aborted writer). */
  writerFailed: ((error: StreamResetError) => void) | undefined;
  /** A raw reader's callback, called once when the pipe fails. */
  readerFailed: ((error: StreamResetError) => void) | undefined;
}

/** The end that writes into a pipe: told when its writing side finished. */
export interface PipeWriterEnd {
  writeFinished(): void;
}

/** The end that reads from a pipe: told when its reading side finished. */
export interface PipeReaderEnd {
  readFinished(): void;
}

/**
 * A pipe whose writes are accepted only while fewer than `highWaterMark` bytes wait unread, so
 * the writer runs at the reader's pace. The pipe keeps its own queue and hands chunks to a web
 * reader one read at a time (the readable's own high-water mark is 0), so it knows exactly when
 * the last byte was taken after a close. Chunks move by reference; a writer must not modify a
 * chunk after writing it. `done` reports when each side has finished.
 *
 * The web streams are made only when someone asks for them: a `ReadableStream` and a
 * `WritableStream` cost ~6–7 KiB of heap each, and a stream spliced raw onto a transport, or
 * held open and idle, never uses them (10 000 idle streams through a hub cost ~45 KiB each at
 * the client before, issue 19). A web stream made after the pipe failed starts out errored.
 * For the same reason the pipe is a class, not a function of closures: ~20 closures cost ~6 KiB
 * per pipe, two pipes per stream.
 *
 * Nothing per pipe is an object or array literal (the ends are told directly, the failure
 * callbacks are fields): V8 may pretenure what a literal site allocates — put it straight into the
 * old generation — once it saw those objects survive a scavenge, and an old object that points
 * at a young pipe keeps the pipe, its stream and its closures alive through every scavenge until
 * the next full collection. That made a stream open up to 20× slower, bimodally from run to
 * run (issue 19).
 */
export function memoryPipe(highWaterMark: number): Pipe {
  return new MemoryPipe(highWaterMark);
}

class MemoryPipe extends ChunkDelivery implements Pipe {
  drained: (() => void) | undefined = undefined;
  writerFailed: ((error: StreamResetError) => void) | undefined = undefined;
  readerFailed: ((error: StreamResetError) => void) | undefined = undefined;

  readonly #highWaterMark: number;
  #writerEnd!: PipeWriterEnd;
  #readerEnd!: PipeReaderEnd;
  #webReader: ReadableStreamDefaultController<Uint8Array> | undefined;
  #webWriter: WritableStreamDefaultController | undefined;
  #readable: ReadableStream<Uint8Array> | undefined;
  #writable: WritableStream<Uint8Array> | undefined;
  /** Why the pipe failed (reset, cancelled, aborted): a web stream made later starts errored with it. */
  #failure: StreamResetError | undefined;
  readonly #queue = new Queue<Uint8Array>();
  #queuedBytes = 0;
  #writerClosed = false;
  #readerDone = false;
  #finished = false;
  #wakeWebWriter: (() => void) | undefined;
  #wakeWebReader: (() => void) | undefined;
  #rawReader: PipeReader | undefined;
  #paused = false;
  #rawWriterWaiting = false;

  constructor(highWaterMark: number) {
    super();
    this.#highWaterMark = highWaterMark;
  }

  join(writerEnd: PipeWriterEnd, readerEnd: PipeReaderEnd): void {
    this.#writerEnd = writerEnd;
    this.#readerEnd = readerEnd;
  }

  get readable(): ReadableStream<Uint8Array> {
    return (this.#readable ??= this.#makeReadable());
  }

  get writable(): WritableStream<Uint8Array> {
    return (this.#writable ??= this.#makeWritable());
  }

  reset(error: StreamResetError): void {
    if (this.#finished) return;
    this.#queue.drain();
    try {
      this.#webReader?.error(error);
    } catch {
      // the readable already ended; nothing to tell it
    }
    this.#webWriter?.error(error);
    this.#wakeWebWriter?.();
    this.#finish();
    this.#fail(error);
  }

  write(chunk: Uint8Array): boolean {
    if (this.#finished || this.#writerClosed) return true; // dropped: a failure was reported through `failed`
    if (this.#push(chunk)) return true;
    this.#rawWriterWaiting = true;
    return false;
  }

  end(): void {
    this.#closeWriter();
  }

  readInto(reader: PipeReader): void {
    this.#rawReader = reader;
    this.deliver();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.deliver();
  }

  #finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#writerEnd.writeFinished();
    this.#readerEnd.readFinished();
  }

  #fail(error: StreamResetError): void {
    this.#failure = error;
    const writer = this.writerFailed;
    const reader = this.readerFailed;
    this.writerFailed = this.readerFailed = undefined;
    writer?.(error);
    reader?.(error);
  }

  /** A chunk left the buffer: let a writer waiting for room go on. */
  #taken(chunk: Uint8Array): void {
    this.#queuedBytes -= chunk.byteLength;
    if (this.#queuedBytes >= this.#highWaterMark) return;
    if (this.#wakeWebWriter !== undefined) {
      const resume = this.#wakeWebWriter;
      this.#wakeWebWriter = undefined;
      resume();
    }
    if (this.#rawWriterWaiting) {
      this.#rawWriterWaiting = false;
      this.drained?.();
    }
  }

  #readEnded(): void {
    if (this.#readerDone) return;
    this.#readerDone = true;
    this.#readerEnd.readFinished();
  }

  /** Hands a web reader one chunk, or the end of the stream; false when there is nothing yet. */
  #feed(): boolean {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) {
      this.#webReader!.enqueue(chunk);
      this.#taken(chunk);
      return true;
    }
    if (this.#writerClosed) {
      this.#webReader!.close();
      this.#readEnded();
      return true;
    }
    return false;
  }

  // The raw reader's delivery loop (ChunkDelivery): everything queued, then the end, unless paused.

  protected deliveryReader(): PipeReader | undefined {
    return this.#paused || this.#finished ? undefined : this.#rawReader;
  }

  protected takeChunk(): Uint8Array | undefined {
    const chunk = this.#queue.shift();
    if (chunk !== undefined) this.#taken(chunk);
    return chunk;
  }

  protected deliverEnd(reader: PipeReader): void {
    if (!this.#writerClosed || this.#readerDone) return;
    this.#readEnded();
    reader.end();
  }

  /** A chunk from either kind of writer; true while below the high-water mark. */
  #push(chunk: Uint8Array): boolean {
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.byteLength;
    if (this.#rawReader !== undefined) this.deliver();
    else this.#wakeWebReader?.();
    return this.#queuedBytes < this.#highWaterMark;
  }

  #closeWriter(): void {
    if (this.#writerClosed) return;
    this.#writerClosed = true;
    this.#writerEnd.writeFinished();
    if (this.#rawReader === undefined) this.#wakeWebReader?.();
    else if (this.#paused) this.#rawReader.ending?.();
    else this.deliver();
  }

  #makeReadable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#webReader = controller;
          if (this.#failure !== undefined) controller.error(this.#failure);
        },
        pull: () => {
          if (this.#feed()) return undefined;
          return new Promise<void>((resolve) => {
            this.#wakeWebReader = () => {
              this.#wakeWebReader = undefined;
              this.#feed();
              resolve();
            };
          });
        },
        cancel: (reason) => {
          if (this.#finished) return;
          const error = new StreamResetError("the reader cancelled", reason);
          this.#webWriter?.error(error);
          this.#wakeWebWriter?.();
          this.#finish();
          this.#fail(error);
        },
      },
      { highWaterMark: 0 },
    );
  }

  #makeWritable(): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#webWriter = controller;
        if (this.#failure !== undefined) controller.error(this.#failure);
      },
      write: (chunk) => {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError("a byte stream carries Uint8Array chunks");
        }
        if (this.#finished) throw new StreamResetError("the reader is gone");
        if (this.#push(chunk)) return undefined;
        return new Promise<void>((resolve) => (this.#wakeWebWriter = resolve));
      },
      close: () => this.#closeWriter(),
      abort: (reason) => {
        if (this.#finished) return;
        const error =
          reason instanceof StreamResetError ? reason : new StreamResetError("the writer aborted", reason);
        this.#webReader?.error(error);
        this.#finish();
        this.#fail(error);
      },
    });
  }
}
