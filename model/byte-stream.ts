import { Attachable } from "../codecs/reference.js";
import { countClosed, countOpen } from "./attachments.js";
import { StreamResetError } from "./errors.js";
import { memoryPipe, type Pipe } from "./memory-pipe.js";
import { webStreamsPort } from "./web-streams-port.js";
import { Owners, type Ownable, type Scope } from "./scope.js";
import type { ByteStreamPort } from "./byte-stream-port.js";

export type { ByteStreamPort, ByteStreamSink } from "./byte-stream-port.js";

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
  readonly #makePort: (() => ByteStreamPort) | undefined;
  #readDone = false;
  #writeDone = false;
  #closed = false;
  #resolveClosed!: () => void;

  /**
   * Wraps a readable and a writable as one end. `onReset` must abort both directions at the
   * far side too. Applications use `ByteStream.pair()`; transports build ends from their frames
   * and report direction completion through `readFinished`/`writeFinished`, and may offer a
   * {@link ByteStreamPort} (`makePort`) for splices.
   */
  constructor(
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
    onReset: (reason: unknown) => void,
    makePort?: () => ByteStreamPort,
  ) {
    super();
    this.readable = readable;
    this.writable = writable;
    this.#onReset = onReset;
    this.#makePort = makePort;
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
    const a = new ByteStream(bToA.readable, aToB.writable, reset, () => pipePort(bToA, aToB));
    const b = new ByteStream(aToB.readable, bToA.writable, reset, () => pipePort(aToB, bToA));
    ends.push(a, b);
    return [a, b];
  }

  /** @internal Whether {@link openPort} would succeed: no one uses the end's web streams yet. */
  get canOpenPort(): boolean {
    return !this.#closed && !this.readable.locked && !this.writable.locked;
  }

  /**
   * @internal Opens the end's port (see {@link ByteStreamPort}), locking its web streams: the
   * end's own raw port when it has one, else one over the web streams. Undefined when
   * {@link canOpenPort} is false.
   */
  openPort(): ByteStreamPort | undefined {
    if (!this.canOpenPort) return undefined;
    // Held, and read only by the fallback port: the locks keep anyone else from interleaving.
    const reader = this.readable.getReader();
    const writer = this.writable.getWriter();
    return this.#makePort?.() ?? webStreamsPort(reader, writer);
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

/** The raw port of an in-memory end that reads from `incoming` and writes to `outgoing`. */
function pipePort(incoming: Pipe, outgoing: Pipe): ByteStreamPort {
  return {
    start: (sink) => {
      // Either direction failing resets the whole stream: tell the sink once.
      let told = false;
      const failed = (error: StreamResetError): void => {
        if (told) return;
        told = true;
        sink.reset(error);
      };
      incoming.failed.reader = failed;
      outgoing.failed.writer = failed;
      outgoing.drained = () => sink.drain();
      incoming.readInto(sink);
    },
    pause: () => incoming.pause(),
    resume: () => incoming.resume(),
    write: (chunk) => outgoing.write(chunk),
    end: () => outgoing.end(),
  };
}
