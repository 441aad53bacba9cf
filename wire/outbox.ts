import { copyBytes } from "../codecs/own.js";
import { EMPTY, FrameType, HEADER_SIZE, writeHeader, writeU32 } from "./frame.js";

/** Frames are written back to back into slabs of at most this size. */
const SLAB_SIZE = 64 * 1024;
/**
 * A connection's first slab; each next one is twice the last, up to `SLAB_SIZE`. A 64 KiB
 * first slab was most of what an idle Unix session cost (~71 KiB, and zero-filled at connect):
 * a session that sends little keeps 8 KiB, a busy one reaches full slabs after three renewals.
 */
const FIRST_SLAB_SIZE = 8 * 1024;
/** A frame larger than this gets a buffer of its own (copying it into slabs gains nothing). */
const OWN_BUFFER_ABOVE = 16 * 1024;
/** Free bytes a message to be encoded in place is given at least (a larger one is copied in). */
const MIN_ROOM = 4096;

/**
 * The frames a connection has queued and not yet handed to its transport. Frames are written
 * into a slab, back to back, message bodies usually encoded in place by the codec
 * (`beginMessage`, `commitMessage`); a batch goes out as a view of the slab (usually one chunk
 * for many frames), so a small frame costs no allocation or copy of its own. Bytes handed out
 * are never written again: the slab only fills forward, and a full one is replaced, not reused.
 */
export class Outbox {
  #slab = new Uint8Array(FIRST_SLAB_SIZE);
  /** Start of the slab bytes written since the last cut (not yet in `#chunks`). */
  #start = 0;
  /** End of the written slab bytes. */
  #end = 0;
  /** Where the frame being written goes: the slab, or a frame's own buffer. */
  #target: Uint8Array = this.#slab;
  #chunks: Uint8Array[] = [];
  #fds: number[] = [];
  /** Frames queued since the last `take`. */
  frames = 0;
  /** Bytes queued since the last `take`. */
  bytes = 0;
  /**
   * Of those, the bytes of frames the peer's credit bounds (DATA and EVENT): a peer that stops
   * reading cannot make them grow, unlike answers to what it sends.
   */
  creditedBytes = 0;
  /**
   * Of the frames, the EVENTs: they do not make the writer cut a long turn into slices (see
   * `BatchedWriter.queued`).
   */
  eventFrames = 0;

  /**
   * Whether every chunk handed out so far has been let go of by whoever took it (see
   * `ByteTransport.releasesChunks`). When it says so, an empty outbox writes its slab from the
   * start again instead of moving on: a busy fan-out took a fresh 64 KiB every ~600 small events
   * before (allocation, page faults and GC were a tenth of the hub's CPU per delivery).
   */
  released: (() => boolean) | undefined;

  /** The buffer a message begun with `beginMessage` is encoded into. */
  get slab(): Uint8Array {
    return this.#slab;
  }

  /**
   * Makes room for a message frame to be encoded in place: returns where in `slab` its body
   * starts (after the header and `prefix` bytes of request id). Nothing is queued until
   * `commitMessage`; a message that is not committed (it failed, or was copied in with
   * `message` instead) leaves no trace.
   */
  beginMessage(prefix: number): number {
    if (this.#end !== 0 && this.#start === this.#end) this.#rewind();
    if (this.#slab.byteLength - this.#end < MIN_ROOM) this.#newSlab(MIN_ROOM);
    return this.#end + HEADER_SIZE + prefix;
  }

  /** Queues the message begun last, whose body was encoded in place at `slab[bodyStart, bodyEnd)`. */
  commitMessage(
    type: number,
    id: number,
    requestId: number,
    bodyStart: number,
    bodyEnd: number,
    fdCount: number,
  ): void {
    const at = this.#end;
    const prefix = requestId === -1 ? 0 : 4;
    if (bodyStart !== at + HEADER_SIZE + prefix) {
      throw new Error("Outbox: a frame was queued while a message was being encoded in place");
    }
    const slab = this.#slab;
    writeHeader(slab, at, type, id, bodyEnd - at - HEADER_SIZE, fdCount);
    if (prefix !== 0) writeU32(slab, at + HEADER_SIZE, requestId);
    this.#end = bodyEnd;
    this.frames++;
    this.bytes += bodyEnd - at;
    if (type === FrameType.EVENT) {
      this.creditedBytes += bodyEnd - at;
      this.eventFrames++;
    }
  }

  /** Queues a frame with `payload` (copied). */
  frame(type: number, id: number, payload: Uint8Array = EMPTY): void {
    this.message(type, id, -1, payload, 0, payload.byteLength, 0);
  }

  /**
   * Queues a message frame: the header, the request id (when `requestId` is not -1), then
   * `body[start, end)` (copied).
   */
  message(
    type: number,
    id: number,
    requestId: number,
    body: Uint8Array,
    start: number,
    end: number,
    fdCount: number,
  ): void {
    const prefix = requestId === -1 ? 0 : 4;
    const length = prefix + end - start;
    const at = this.#reserve(HEADER_SIZE + length);
    const target = this.#target;
    writeHeader(target, at, type, id, length, fdCount);
    if (prefix !== 0) writeU32(target, at + HEADER_SIZE, requestId);
    if (start === 0 && end === body.byteLength) {
      // A whole buffer (a body encoded once for many sessions): copied as it is, without the
      // view `copyBytes` would make of it, one object per subscriber per publication.
      target.set(body, at + HEADER_SIZE + prefix);
    } else copyBytes(body, start, end - start, target, at + HEADER_SIZE + prefix);
    this.frames++;
    this.bytes += HEADER_SIZE + length;
    if (type === FrameType.EVENT) {
      this.creditedBytes += HEADER_SIZE + length;
      this.eventFrames++;
    }
  }

  /** Queues a DATA frame: its header here, `chunk` after it as a chunk of its own, uncopied. */
  data(id: number, chunk: Uint8Array): void {
    const at = this.#reserve(HEADER_SIZE);
    writeHeader(this.#target, at, FrameType.DATA, id, chunk.byteLength, 0);
    this.#cut();
    this.#chunks.push(chunk);
    this.frames++;
    this.bytes += HEADER_SIZE + chunk.byteLength;
    this.creditedBytes += HEADER_SIZE + chunk.byteLength;
  }

  /** fds that travel with the first byte of the batch (the caller starts a batch for them). */
  addFds(fds: readonly number[]): void {
    for (const fd of fds) this.#fds.push(fd);
  }

  /** Takes the queued batch: its chunks in order and its fds. */
  take(): { chunks: Uint8Array[]; fds: number[] } {
    this.#cut();
    const batch = { chunks: this.#chunks, fds: this.#fds };
    this.#chunks = [];
    if (this.#fds.length > 0) this.#fds = [];
    this.frames = 0;
    this.bytes = 0;
    this.creditedBytes = 0;
    this.eventFrames = 0;
    return batch;
  }

  /** Drops what is queued; returns the fds it held (for the caller to close). */
  clear(): number[] {
    const fds = this.#fds;
    this.#fds = [];
    this.#chunks = [];
    this.#start = this.#end;
    this.frames = 0;
    this.bytes = 0;
    this.creditedBytes = 0;
    this.eventFrames = 0;
    return fds;
  }

  /** Room for `size` bytes: returns the offset to write them at in `#target`. */
  #reserve(size: number): number {
    if (size > OWN_BUFFER_ABOVE) {
      this.#cut();
      const own = Buffer.allocUnsafe(size);
      this.#chunks.push(own);
      this.#target = own;
      return 0;
    }
    if (this.#end !== 0 && this.#start === this.#end) this.#rewind();
    if (this.#end + size > this.#slab.byteLength) this.#newSlab(size);
    this.#target = this.#slab;
    const at = this.#end;
    this.#end += size;
    return at;
  }

  /**
   * Nothing of the slab is queued here (checked by the callers: every written byte was cut):
   * when no chunk handed out is held any more either, the slab is written from its start again.
   */
  #rewind(): void {
    if (this.#chunks.length === 0 && this.released?.() === true) this.#start = this.#end = 0;
  }

  /** Replaces the slab with a larger one (up to `SLAB_SIZE`) that has room for `need` bytes. */
  #newSlab(need: number): void {
    this.#cut();
    // Not zero-filled: only bytes written since are ever cut into a batch, and a busy fan-out
    // renews its 64 KiB slab every ~600 small events (zeroing it was 0.1-0.2 µs per event).
    this.#slab = Buffer.allocUnsafeSlow(Math.max(need, Math.min(SLAB_SIZE, this.#slab.byteLength * 2)));
    this.#start = this.#end = 0;
  }

  /** Moves the slab bytes written since the last cut into the batch as one chunk. */
  #cut(): void {
    if (this.#end === this.#start) return;
    // A Buffer, as transports like best (once per batch).
    this.#chunks.push(Buffer.from(this.#slab.buffer, this.#start, this.#end - this.#start));
    this.#start = this.#end;
  }
}
