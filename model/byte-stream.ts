import { Attachable } from "../codecs/reference.js";
import { countClosed, countOpen } from "./attachments.js";
import { StreamResetError } from "./errors.js";
import { memoryPipe, type Pipe } from "./memory-pipe.js";
import { webStreamsPort } from "./web-streams-port.js";
import { Owners, type Ownable, type Scope } from "./scope.js";
import type { ByteStreamPort, ByteStreamSink } from "./byte-stream-port.js";

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
  /** Settles when both directions of this end are finished or the stream was reset. */
  readonly closed: Promise<void>;

  readonly #owners = new Owners();
  readonly #onReset: (reason: unknown) => void;
  readonly #makePort: (() => ByteStreamPort) | undefined;
  // The web streams, or how to make them: an end that is spliced raw or stays idle never does.
  #readable: ReadableStream<Uint8Array> | (() => ReadableStream<Uint8Array>);
  #writable: WritableStream<Uint8Array> | (() => WritableStream<Uint8Array>);
  /** The end's raw port was opened before its web streams were made: they are made locked. */
  #portOpen = false;
  #readDone = false;
  #writeDone = false;
  #inputComplete = false;
  #closed = false;
  #resolveClosed!: () => void;

  /**
   * Wraps a readable and a writable as one end. `onReset` must abort both directions at the
   * far side too. Applications use `ByteStream.pair()`; transports build ends from their frames
   * and report direction completion through `readFinished`/`writeFinished`, and may offer a
   * {@link ByteStreamPort} (`makePort`) for splices. Either stream may be given as a function
   * that makes it, called on first use.
   */
  constructor(
    readable: ReadableStream<Uint8Array> | (() => ReadableStream<Uint8Array>),
    writable: WritableStream<Uint8Array> | (() => WritableStream<Uint8Array>),
    onReset: (reason: unknown) => void,
    makePort?: () => ByteStreamPort,
  ) {
    super();
    this.#readable = readable;
    this.#writable = writable;
    this.#onReset = onReset;
    this.#makePort = makePort;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    countOpen();
  }

  /** Creates two connected ends: bytes written to one are read from the other. */
  static pair(options: ByteStreamOptions = {}): [ByteStream, ByteStream] {
    const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    // No array or object literal holds the ends or the pipes (see memory-pipe.ts on pretenuring).
    const aToB = memoryPipe(highWaterMark);
    const bToA = memoryPipe(highWaterMark);
    const reset = (reason: unknown): void => {
      const error =
        reason instanceof StreamResetError ? reason : new StreamResetError("reset by peer", reason);
      aToB.reset(error);
      bToA.reset(error);
    };
    const a = new ByteStream(
      () => bToA.readable,
      () => aToB.writable,
      reset,
      () => new PipePort(bToA, aToB),
    );
    const b = new ByteStream(
      () => aToB.readable,
      () => bToA.writable,
      reset,
      () => new PipePort(aToB, bToA),
    );
    aToB.join(a, b);
    bToA.join(b, a);
    return [a, b];
  }

  /** What the other end writes, as a web stream (made on first use). */
  get readable(): ReadableStream<Uint8Array> {
    let readable = this.#readable;
    if (typeof readable === "function") {
      this.#readable = readable = readable();
      if (this.#portOpen) readable.getReader(); // held by the port, as if made before it
    }
    return readable;
  }

  /** What this end sends to the other, as a web stream (made on first use). */
  get writable(): WritableStream<Uint8Array> {
    let writable = this.#writable;
    if (typeof writable === "function") {
      this.#writable = writable = writable();
      if (this.#portOpen) writable.getWriter();
    }
    return writable;
  }

  /** Whether {@link openPort} would succeed: the end is open and no one uses its web streams yet. */
  get canOpenPort(): boolean {
    if (this.#closed || this.#portOpen) return false;
    const readable = this.#readable;
    const writable = this.#writable;
    return (
      (typeof readable === "function" || !readable.locked) &&
      (typeof writable === "function" || !writable.locked)
    );
  }

  /**
   * Opens the end's port (see {@link ByteStreamPort}): the raw way to read and write this end,
   * without web streams, at a function call per chunk. It locks the end's `readable` and
   * `writable` (an end is driven one way or the other, never both). The ends of
   * `ByteStream.pair()` and of every transport have a raw port of their own: opened before the
   * web streams were ever asked for, they are never made. Other ends get a port over their web
   * streams. Undefined when {@link canOpenPort} is false (the end is closed, its port is open, or
   * its web streams are locked).
   */
  openPort(): ByteStreamPort | undefined {
    if (!this.canOpenPort) return undefined;
    const makePort = this.#makePort;
    if (
      makePort !== undefined &&
      typeof this.#readable === "function" &&
      typeof this.#writable === "function"
    ) {
      // A raw port on an end whose web streams were never made: they need not be (if they ever
      // are, they come locked, so nobody can interleave with the port).
      this.#portOpen = true;
      return makePort();
    }
    // Held, and read only by the fallback port: the locks keep anyone else from interleaving.
    const reader = this.readable.getReader();
    const writer = this.writable.getWriter();
    this.#portOpen = true;
    return makePort?.() ?? webStreamsPort(reader, writer);
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

  /**
   * Closing an owner resets the stream unless it already finished — or unless all that is left
   * of it is reading what the other end sent in full: its END arrived and this end's writing is
   * over (its connection went after the END). Those bytes stay readable to their end: a
   * publisher that wrote its last byte and its END, then closed its session, must not have its
   * stream cut under a reader that has not taken it all yet.
   */
  close(reason?: unknown): void {
    if (this.#inputComplete && this.#writeDone) return;
    this.reset(reason ?? new StreamResetError("its owner closed"));
  }

  /** @internal The other end's END arrived: what is left to read is complete (see {@link close}). */
  inputComplete(): void {
    this.#inputComplete = true;
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

/**
 * The raw port of an in-memory end that reads from `incoming` and writes to `outgoing`. A class
 * rather than an object literal of closures: see memory-pipe.ts on pretenuring.
 */
class PipePort implements ByteStreamPort {
  #sink: ByteStreamSink | undefined;
  #told = false;

  constructor(
    private readonly incoming: Pipe,
    private readonly outgoing: Pipe,
  ) {}

  start(sink: ByteStreamSink): void {
    this.#sink = sink;
    // Either direction failing resets the whole stream: the sink is told once.
    this.incoming.readerFailed = this.outgoing.writerFailed = (error) => this.#failed(error);
    this.outgoing.drained = () => sink.drain();
    this.incoming.readInto(sink);
  }

  pause(): void {
    this.incoming.pause();
  }

  resume(): void {
    this.incoming.resume();
  }

  write(chunk: Uint8Array): boolean {
    return this.outgoing.write(chunk);
  }

  end(): void {
    this.outgoing.end();
  }

  #failed(error: StreamResetError): void {
    if (this.#told) return;
    this.#told = true;
    this.#sink!.reset(error);
  }
}
