/**
 * One direction of an in-memory byte stream (`ByteStream.pair()`): a bounded buffer between a
 * writer and a reader. Either side is driven through its web stream or raw, by a splice
 * (`ByteStreamPort`), and the two can be mixed: a raw writer feeding a web reader, and so on.
 */
import { StreamResetError } from "./errors.js";
import { Queue } from "./queue.js";

/** What a raw reader of a pipe is told. */
export interface PipeReader {
  data(chunk: Uint8Array): void;
  end(): void;
}

/** One direction of an in-memory byte stream. */
export interface Pipe {
  /** The reading side as a web stream, made on first use (an idle pipe holds none). */
  readonly readable: ReadableStream<Uint8Array>;
  /** The writing side as a web stream, made on first use. */
  readonly writable: WritableStream<Uint8Array>;
  /** Errors both sides with `error`, whoever holds their locks; tells raw users (`failed`). */
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
  /**
   * A raw writer's and a raw reader's callback, each called once when the pipe fails (reset, a
   * cancelled reader, an aborted writer).
   */
  failed: { writer?: (error: StreamResetError) => void; reader?: (error: StreamResetError) => void };
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
 */
export function memoryPipe(
  highWaterMark: number,
  done: { writeDone: () => void; readDone: () => void },
): Pipe {
  let webReader: ReadableStreamDefaultController<Uint8Array> | undefined;
  let webWriter: WritableStreamDefaultController | undefined;
  let readable: ReadableStream<Uint8Array> | undefined;
  let writable: WritableStream<Uint8Array> | undefined;
  /** Why the pipe failed (reset, cancelled, aborted): a web stream made later starts errored with it. */
  let failure: StreamResetError | undefined;
  const queue = new Queue<Uint8Array>();
  let queuedBytes = 0;
  let writerClosed = false;
  let readerDone = false;
  let finished = false;
  let wakeWebWriter: (() => void) | undefined;
  let wakeWebReader: (() => void) | undefined;
  let rawReader: PipeReader | undefined;
  let paused = false;
  let rawWriterWaiting = false;
  let delivering = false;

  const finish = (): void => {
    if (finished) return;
    finished = true;
    done.writeDone();
    done.readDone();
  };
  const fail = (error: StreamResetError): void => {
    failure = error;
    const { writer, reader } = pipe.failed;
    pipe.failed = {};
    writer?.(error);
    reader?.(error);
  };
  /** A chunk left the buffer: let a writer waiting for room go on. */
  const taken = (chunk: Uint8Array): void => {
    queuedBytes -= chunk.byteLength;
    if (queuedBytes >= highWaterMark) return;
    if (wakeWebWriter !== undefined) {
      const resume = wakeWebWriter;
      wakeWebWriter = undefined;
      resume();
    }
    if (rawWriterWaiting) {
      rawWriterWaiting = false;
      pipe.drained?.();
    }
  };
  const readEnded = (): void => {
    if (readerDone) return;
    readerDone = true;
    done.readDone();
  };
  /** Hands a web reader one chunk, or the end of the stream; false when there is nothing yet. */
  const feed = (): boolean => {
    const chunk = queue.shift();
    if (chunk !== undefined) {
      webReader!.enqueue(chunk);
      taken(chunk);
      return true;
    }
    if (writerClosed) {
      webReader!.close();
      readEnded();
      return true;
    }
    return false;
  };
  /** Hands a raw reader everything queued, then the end, unless it paused. */
  const deliver = (): void => {
    // A chunk written while the reader handles the previous one waits for this loop: in order.
    if (delivering) return;
    delivering = true;
    try {
      while (rawReader !== undefined && !paused && !finished) {
        const chunk = queue.shift();
        if (chunk === undefined) {
          if (writerClosed && !readerDone) {
            readEnded();
            rawReader.end();
          }
          return;
        }
        taken(chunk);
        rawReader.data(chunk);
      }
    } finally {
      delivering = false;
    }
  };
  /** A chunk from either kind of writer; true while below the high-water mark. */
  const push = (chunk: Uint8Array): boolean => {
    queue.push(chunk);
    queuedBytes += chunk.byteLength;
    if (rawReader !== undefined) deliver();
    else wakeWebReader?.();
    return queuedBytes < highWaterMark;
  };
  const closeWriter = (): void => {
    if (writerClosed) return;
    writerClosed = true;
    done.writeDone();
    if (rawReader !== undefined) deliver();
    else wakeWebReader?.();
  };

  const makeReadable = (): ReadableStream<Uint8Array> =>
    new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          webReader = controller;
          if (failure !== undefined) controller.error(failure);
        },
        pull: () => {
          if (feed()) return undefined;
          return new Promise<void>((resolve) => {
            wakeWebReader = () => {
              wakeWebReader = undefined;
              feed();
              resolve();
            };
          });
        },
        cancel: (reason) => {
          if (finished) return;
          const error = new StreamResetError("the reader cancelled", reason);
          webWriter?.error(error);
          wakeWebWriter?.();
          finish();
          fail(error);
        },
      },
      { highWaterMark: 0 },
    );

  const makeWritable = (): WritableStream<Uint8Array> =>
    new WritableStream<Uint8Array>({
      start: (controller) => {
        webWriter = controller;
        if (failure !== undefined) controller.error(failure);
      },
      write: (chunk) => {
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError("a byte stream carries Uint8Array chunks");
        }
        if (finished) throw new StreamResetError("the reader is gone");
        if (push(chunk)) return undefined;
        return new Promise<void>((resolve) => (wakeWebWriter = resolve));
      },
      close: closeWriter,
      abort: (reason) => {
        if (finished) return;
        const error =
          reason instanceof StreamResetError ? reason : new StreamResetError("the writer aborted", reason);
        webReader?.error(error);
        finish();
        fail(error);
      },
    });

  const pipe: Pipe = {
    get readable() {
      return (readable ??= makeReadable());
    },
    get writable() {
      return (writable ??= makeWritable());
    },
    reset: (error) => {
      if (finished) return;
      queue.drain();
      try {
        webReader?.error(error);
      } catch {
        // the readable already ended; nothing to tell it
      }
      webWriter?.error(error);
      wakeWebWriter?.();
      finish();
      fail(error);
    },
    write: (chunk) => {
      if (finished || writerClosed) return true; // dropped: a failure was reported through `failed`
      if (push(chunk)) return true;
      rawWriterWaiting = true;
      return false;
    },
    end: closeWriter,
    readInto: (reader) => {
      rawReader = reader;
      deliver();
    },
    pause: () => {
      paused = true;
    },
    resume: () => {
      if (!paused) return;
      paused = false;
      deliver();
    },
    drained: undefined,
    failed: {},
  };
  return pipe;
}
