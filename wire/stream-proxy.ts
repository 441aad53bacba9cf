import { ByteStream, type ByteStreamPort, type ByteStreamSink } from "../model/byte-stream.js";
import { StreamResetError } from "../model/errors.js";
import { ChunkDelivery } from "../model/chunk-delivery.js";
import { Queue } from "../model/queue.js";
import { ProtocolError } from "./errors.js";

/** What a stream proxy needs from its connection. */
export interface StreamWire {
  /** The largest DATA payload to send. */
  readonly maxData: number;
  sendData(id: number, chunk: Uint8Array): void;
  sendWindow(id: number, increment: number): void;
  sendEnd(id: number): void;
  sendReset(id: number, reason: unknown): void;
  /** Both directions finished: the id can be forgotten. */
  forget(id: number): void;
}

/**
 * The local end of a byte stream whose other end is across a connection. Flow control is a
 * per-direction credit window (PROTOCOL.md, "Byte streams"): the sender never has more than the
 * receiver's window in flight, and the receiver returns credit (WINDOW) as its reader consumes
 * bytes — so a slow reader slows the remote writer and nothing buffers without bound.
 */
export class StreamProxy extends ChunkDelivery implements ByteStreamPort {
  readonly stream: ByteStream;

  // The web streams' controllers, once made: a stream that is spliced, or held idle, makes none
  // (a pair of them was most of the ~9 KiB an idle stream cost at a hub, issue 19).
  #reader: ReadableStreamDefaultController<Uint8Array> | undefined;
  #writer: WritableStreamDefaultController | undefined;
  /** Why the stream was reset: a web stream made afterwards starts errored with it. */
  #failure: StreamResetError | undefined;
  readonly #inbound = new Queue<Uint8Array>();
  /** Bytes the peer may still send us before it must wait for WINDOW. */
  #receiveCredit: number;
  /** Bytes consumed by our reader not yet returned to the peer as credit. */
  #consumed = 0;
  /** Bytes we may still send. */
  #sendCredit: number;
  #wakeWriter: (() => void) | undefined;
  #wakeReader: (() => void) | undefined;
  #peerEnded = false;
  #reset = false;
  /** Why our direction failed while the peer's stays readable (the connection went after its END). */
  #writeFailed: StreamResetError | undefined;
  /** The splice driving this end through its port, once one is; then web streams are unused. */
  #sink: ByteStreamSink | undefined;
  #paused = false;
  #endDelivered = false;
  /** Port writes waiting for credit, oldest first; the first may be partly sent already. */
  readonly #unsent: Uint8Array[] = [];
  /** The bytes in `#unsent`. */
  #unsentBytes = 0;
  #portWaiting = false;
  #portEnding = false;
  /** The writer feeding the port finished while it was held back (`ending()`). */
  #sourceEnding = false;

  constructor(
    readonly id: number,
    private readonly wire: StreamWire,
    sendWindow: number,
    private readonly receiveWindow: number,
  ) {
    super();
    this.#sendCredit = sendWindow;
    this.#receiveCredit = receiveWindow;
    this.stream = new ByteStream(
      () => this.#makeReadable(),
      () => this.#makeWritable(),
      (reason) => this.#abort(reason, true),
      () => this,
    );
  }

  #makeReadable(): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#reader = controller;
          if (this.#failure !== undefined) controller.error(this.#failure);
        },
        pull: () => {
          if (this.#feed()) return undefined;
          return new Promise<void>((resolve) => {
            this.#wakeReader = () => {
              this.#wakeReader = undefined;
              this.#feed();
              resolve();
            };
          });
        },
        cancel: (reason) => this.#abort(new StreamResetError("the reader cancelled", reason), true),
      },
      { highWaterMark: 0 },
    );
  }

  #makeWritable(): WritableStream<Uint8Array> {
    return new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writer = controller;
        if (this.#failure !== undefined) controller.error(this.#failure);
      },
      write: (chunk) => this.#write(chunk),
      close: () => {
        if (!this.#reset) this.#sendEnd();
      },
      abort: (reason) => this.#abort(reason, true),
    });
  }

  /**
   * Bytes written through the port that wait for the peer's credit, once the writer feeding the
   * port has finished (`end()` or `ending()`): what a closing session owes the peer. A writer
   * still going has its bytes dropped by a close, as before.
   */
  get owedBytes(): number {
    return this.#portEnding || this.#sourceEnding ? this.#unsentBytes : 0;
  }

  /** Bytes the peer sent that were not yet returned to it as credit (buffered, or read since the last WINDOW). */
  get unreturnedCredit(): number {
    return this.receiveWindow - this.#receiveCredit;
  }

  // ---- frames from the peer ----------------------------------------------------------------

  onData(payload: Uint8Array): void {
    if (this.#reset) return; // in flight when we reset; dropped
    if (this.#peerEnded) throw new ProtocolError("ESTREAM_STATE", `DATA after END on stream ${this.id}`);
    if (payload.byteLength > this.#receiveCredit) {
      throw new ProtocolError(
        "EFLOW_CONTROL",
        `stream ${this.id}: peer sent ${payload.byteLength} bytes with only ${this.#receiveCredit} of window`,
      );
    }
    this.#receiveCredit -= payload.byteLength;
    this.#inbound.push(payload);
    if (this.#sink !== undefined) this.deliver();
    else this.#wakeReader?.();
  }

  onWindow(increment: number): void {
    this.#sendCredit += increment;
    if (this.#sink !== undefined) return this.#sendUnsent();
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    wake?.();
  }

  onEnd(): void {
    this.#peerEnded = true;
    this.stream.inputComplete();
    if (this.#sink !== undefined) this.deliver();
    else this.#wakeReader?.();
  }

  onReset(reason: unknown): void {
    this.#abort(
      reason instanceof StreamResetError ? reason : new StreamResetError("reset by peer", reason),
      false,
    );
  }

  /**
   * The connection is gone: both directions fail — unless the peer had already ended its
   * direction, in which case what it sent is complete and still ours to read (a publisher that
   * wrote its last byte and its END, then closed its connection, must not lose the bytes a slow
   * reader here has not taken yet); only our direction fails then.
   */
  connectionLost(error: unknown): void {
    const lost = new StreamResetError("the connection was lost", error);
    if (!this.#peerEnded || this.#reset) return this.#abort(lost, false);
    this.#failWriting(lost);
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Hands our reader one chunk (or the end); false when there is nothing yet. */
  #feed(): boolean {
    const chunk = this.#inbound.shift();
    if (chunk !== undefined) {
      this.#reader!.enqueue(chunk);
      this.#wasConsumed(chunk.byteLength);
      return true;
    }
    if (this.#peerEnded) {
      this.#reader!.close();
      this.stream.readFinished();
      this.#maybeForget();
      return true;
    }
    return false;
  }

  /** Our reader took `bytes`: return credit in batches, a WINDOW frame per half window. */
  #wasConsumed(bytes: number): void {
    this.#consumed += bytes;
    if (this.#consumed >= this.receiveWindow / 2 && !this.#peerEnded) {
      this.wire.sendWindow(this.id, this.#consumed);
      this.#receiveCredit += this.#consumed;
      this.#consumed = 0;
    }
  }

  // ---- the raw port (ByteStreamPort), for splices --------------------------------------------

  // The proxy is its own port (a class's methods, not an object literal of closures: see
  // model/memory-pipe.ts on pretenuring).

  /** Port: starts delivering what arrives to `sink`. */
  start(sink: ByteStreamSink): void {
    this.#sink = sink;
    this.deliver();
  }

  /** Port: stops delivery; the peer is held back by the credit window. */
  pause(): void {
    this.#paused = true;
  }

  /** Port: resumes delivery. */
  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.deliver();
  }

  /** Port: sends `chunk` as far as credit goes; false while some of it waits for credit. */
  write(chunk: Uint8Array): boolean {
    // Dropped: the sink was told of the reset, or the connection went after the peer's END.
    if (this.#reset || this.#portEnding || this.#writeFailed !== undefined) return true;
    this.#unsent.push(chunk);
    this.#unsentBytes += chunk.byteLength;
    if (this.#unsent.length === 1) this.#sendUnsent();
    if (this.#unsent.length === 0) return true;
    this.#portWaiting = true;
    return false;
  }

  /** Port: the writer feeding this port finished; its last chunks wait behind credit. */
  ending(): void {
    this.#sourceEnding = true;
  }

  /** Port: half-closes once every written chunk has left. */
  end(): void {
    if (this.#reset || this.#portEnding || this.#writeFailed !== undefined) return;
    this.#portEnding = true;
    if (this.#unsent.length === 0) this.#sendEnd();
  }

  // The sink's delivery loop (ChunkDelivery): what arrived, then the end, unless paused.

  protected deliveryReader(): ByteStreamSink | undefined {
    return this.#paused || this.#reset ? undefined : this.#sink;
  }

  protected takeChunk(): Uint8Array | undefined {
    const chunk = this.#inbound.shift();
    if (chunk !== undefined) this.#wasConsumed(chunk.byteLength);
    return chunk;
  }

  protected deliverEnd(sink: ByteStreamSink): void {
    if (!this.#peerEnded || this.#endDelivered) return;
    this.#endDelivered = true;
    this.stream.readFinished();
    sink.end();
    this.#maybeForget();
  }

  /** Sends port writes as far as credit goes; then the end, or `drain`, when all have left. */
  #sendUnsent(): void {
    const unsent = this.#unsent;
    while (unsent.length > 0 && this.#sendCredit > 0 && !this.#reset) {
      const chunk = unsent[0]!;
      const size = Math.min(this.#sendCredit, this.wire.maxData, chunk.byteLength);
      this.wire.sendData(this.id, size === chunk.byteLength ? chunk : chunk.subarray(0, size));
      this.#sendCredit -= size;
      this.#unsentBytes -= size;
      if (size === chunk.byteLength) unsent.shift();
      else unsent[0] = chunk.subarray(size);
    }
    if (unsent.length > 0 || this.#reset) return;
    if (this.#portEnding) return this.#sendEnd();
    if (this.#portWaiting) {
      this.#portWaiting = false;
      this.#sink!.drain();
    }
  }

  #sendEnd(): void {
    this.wire.sendEnd(this.id);
    this.stream.writeFinished();
    this.#maybeForget();
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) throw new TypeError("a byte stream carries Uint8Array chunks");
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#reset) throw new StreamResetError("the stream was reset");
      if (this.#writeFailed !== undefined) throw this.#writeFailed;
      if (this.#sendCredit <= 0) {
        await new Promise<void>((resolve) => (this.#wakeWriter = resolve));
        continue;
      }
      const size = Math.min(this.#sendCredit, this.wire.maxData, chunk.byteLength - offset);
      this.wire.sendData(this.id, chunk.subarray(offset, offset + size));
      this.#sendCredit -= size;
      offset += size;
    }
  }

  /** Our direction can no longer reach the peer: writes fail (port writes are dropped). */
  #failWriting(error: StreamResetError): void {
    if (this.#writeFailed !== undefined) return;
    this.#writeFailed = error;
    this.#stopWriting(error);
    this.#maybeForget();
  }

  /** Our direction ends with `error`: the writer fails, a waiting write wakes, nothing unsent stays. */
  #stopWriting(error: StreamResetError): void {
    this.#writer?.error(error);
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    wake?.();
    this.#unsent.length = 0;
    this.#unsentBytes = 0;
    this.stream.writeFinished();
  }

  #abort(reason: unknown, tellPeer: boolean): void {
    if (this.#reset) return;
    this.#reset = true;
    const error = reason instanceof StreamResetError ? reason : new StreamResetError("reset", reason);
    this.#failure = error;
    if (tellPeer) this.wire.sendReset(this.id, error);
    this.#inbound.drain();
    try {
      this.#reader?.error(error);
    } catch {
      // the readable already finished
    }
    this.#stopWriting(error);
    this.stream.readFinished();
    this.wire.forget(this.id);
    this.#sink?.reset(error);
  }

  #maybeForget(): void {
    if (this.stream.isClosed) this.wire.forget(this.id);
  }
}
