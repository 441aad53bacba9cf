import { ByteStream } from "../hub/byte-stream.js";
import { StreamResetError } from "../hub/errors.js";
import { Queue } from "../hub/queue.js";
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
export class StreamProxy {
  readonly stream: ByteStream;

  #reader!: ReadableStreamDefaultController<Uint8Array>;
  #writer!: WritableStreamDefaultController;
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

  constructor(
    readonly id: number,
    private readonly wire: StreamWire,
    sendWindow: number,
    private readonly receiveWindow: number,
  ) {
    this.#sendCredit = sendWindow;
    this.#receiveCredit = receiveWindow;
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.#reader = controller;
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
    const writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writer = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => {
        if (this.#reset) return;
        this.wire.sendEnd(this.id);
        this.stream.writeFinished();
        this.#maybeForget();
      },
      abort: (reason) => this.#abort(reason, true),
    });
    this.stream = new ByteStream(readable, writable, (reason) => this.#abort(reason, true));
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
    this.#wakeReader?.();
  }

  onWindow(increment: number): void {
    this.#sendCredit += increment;
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    wake?.();
  }

  onEnd(): void {
    this.#peerEnded = true;
    this.#wakeReader?.();
  }

  onReset(reason: unknown): void {
    this.#abort(
      reason instanceof StreamResetError ? reason : new StreamResetError("reset by peer", reason),
      false,
    );
  }

  /** The connection is gone: both directions fail. */
  connectionLost(error: unknown): void {
    this.#abort(new StreamResetError("the connection was lost", error), false);
  }

  // ---- internals ---------------------------------------------------------------------------

  /** Hands our reader one chunk (or the end); false when there is nothing yet. */
  #feed(): boolean {
    const chunk = this.#inbound.shift();
    if (chunk !== undefined) {
      this.#reader.enqueue(chunk);
      this.#consumed += chunk.byteLength;
      // Return credit in batches: a WINDOW frame per half window, not per chunk.
      if (this.#consumed >= this.receiveWindow / 2 && !this.#peerEnded) {
        this.wire.sendWindow(this.id, this.#consumed);
        this.#receiveCredit += this.#consumed;
        this.#consumed = 0;
      }
      return true;
    }
    if (this.#peerEnded) {
      this.#reader.close();
      this.stream.readFinished();
      this.#maybeForget();
      return true;
    }
    return false;
  }

  async #write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) throw new TypeError("a byte stream carries Uint8Array chunks");
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#reset) throw new StreamResetError("the stream was reset");
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

  #abort(reason: unknown, tellPeer: boolean): void {
    if (this.#reset) return;
    this.#reset = true;
    const error = reason instanceof StreamResetError ? reason : new StreamResetError("reset", reason);
    if (tellPeer) this.wire.sendReset(this.id, error);
    this.#inbound.drain();
    try {
      this.#reader.error(error);
    } catch {
      // the readable already finished
    }
    this.#writer.error(error);
    const wake = this.#wakeWriter;
    this.#wakeWriter = undefined;
    wake?.();
    this.stream.readFinished();
    this.stream.writeFinished();
    this.wire.forget(this.id);
  }

  #maybeForget(): void {
    if (this.stream.isClosed) this.wire.forget(this.id);
  }
}
