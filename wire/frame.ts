import { plainView } from "../codecs/own.js";
import { ProtocolError } from "./errors.js";

/**
 * Frames of the beamhub session protocol (PROTOCOL.md, "Frames"). Every frame is a 12-byte
 * header followed by its payload:
 *
 *   offset 0  u32 BE  payload length (bytes after the header)
 *   offset 4  u8      type
 *   offset 5  u8      flags (0 in version 1)
 *   offset 6  u16 BE  number of file descriptors that travel with this frame (Unix only)
 *   offset 8  u32 BE  id: the channel or stream the frame belongs to (0: the session itself)
 */
export const HEADER_SIZE = 12;

export const FrameType = {
  /** First frame each side sends: protocol name, version, codecs, limits (JSON payload). */
  HELLO: 0x01,
  /** A fatal error or a clean shutdown; the sender closes after it (JSON payload). */
  GOAWAY: 0x02,
  /** Liveness check; answered by PONG with the same 8-byte payload. */
  PING: 0x03,
  PONG: 0x04,
  /** A channel event: payload is the encoded message data. */
  EVENT: 0x10,
  /** A channel request: u32 request id, then the encoded data. */
  REQUEST: 0x11,
  /** The successful answer to a request: u32 request id, then the encoded data. */
  REPLY: 0x12,
  /** The failed answer to a request: u32 request id, then the encoded error. */
  FAIL: 0x13,
  /** The requester stopped waiting: u32 request id. */
  CANCEL: 0x14,
  /** The channel is closed, both ends: empty payload or the encoded reason. */
  CLOSE: 0x15,
  /** Stream bytes, sender to receiver, within the receiver's window. */
  DATA: 0x20,
  /** The receiver consumed bytes: u32 window increment. */
  WINDOW: 0x21,
  /** The sender's direction of the stream is finished (half-close). */
  END: 0x22,
  /** Both directions of the stream are aborted: empty or the encoded reason. */
  RESET: 0x23,
} as const;

export type FrameTypeCode = (typeof FrameType)[keyof typeof FrameType];

/** 1 at the index of every known frame type (checked for every frame: no hashing). */
const KNOWN = new Uint8Array(256);
for (const code of Object.values(FrameType)) KNOWN[code] = 1;
const NAMES = new Map<number, string>(Object.entries(FrameType).map(([name, code]) => [code, name]));

/** The name of a frame type, for errors and logs. */
export function frameTypeName(type: number): string {
  return NAMES.get(type) ?? `0x${type.toString(16).padStart(2, "0")}`;
}

export interface Frame {
  type: FrameTypeCode;
  flags: number;
  fdCount: number;
  id: number;
  payload: Uint8Array;
}

export function writeU32(target: Uint8Array, offset: number, value: number): void {
  target[offset] = value >>> 24;
  target[offset + 1] = (value >>> 16) & 0xff;
  target[offset + 2] = (value >>> 8) & 0xff;
  target[offset + 3] = value & 0xff;
}

export function readU32(source: Uint8Array, offset: number): number {
  return (
    ((source[offset]! << 24) |
      (source[offset + 1]! << 16) |
      (source[offset + 2]! << 8) |
      source[offset + 3]!) >>>
    0
  );
}

/** Writes a 12-byte header into `target` at `at`. */
export function writeHeader(
  target: Uint8Array,
  at: number,
  type: number,
  id: number,
  payloadLength: number,
  fdCount: number,
): void {
  writeU32(target, at, payloadLength);
  target[at + 4] = type;
  target[at + 5] = 0;
  target[at + 6] = fdCount >>> 8;
  target[at + 7] = fdCount & 0xff;
  writeU32(target, at + 8, id);
}

/** Encodes a whole frame into one buffer. */
export function encodeFrame(type: number, id: number, payload: Uint8Array = EMPTY, fdCount = 0): Uint8Array {
  const frame = new Uint8Array(HEADER_SIZE + payload.byteLength);
  writeHeader(frame, 0, type, id, payload.byteLength, fdCount);
  frame.set(payload, HEADER_SIZE);
  return frame;
}

/** A u32 request id followed by a body (REQUEST, REPLY, FAIL, CANCEL payloads). */
export function withRequestId(requestId: number, body: Uint8Array = EMPTY): Uint8Array {
  const payload = new Uint8Array(4 + body.byteLength);
  writeU32(payload, 0, requestId);
  payload.set(body, 4);
  return payload;
}

/** A WINDOW payload: the u32 credit increment. */
export function encodeU32(value: number): Uint8Array {
  const payload = new Uint8Array(4);
  writeU32(payload, 0, value);
  return payload;
}

/** The request id at the start of a REQUEST/REPLY/FAIL/CANCEL payload `bytes[start, end)`. */
export function requestIdOf(type: number, bytes: Uint8Array, start: number, end: number): number {
  if (end - start < 4) {
    throw new ProtocolError("EFRAME", `${frameTypeName(type)} frame too short for its request id`);
  }
  return readU32(bytes, start);
}

/** Splits a REQUEST/REPLY/FAIL/CANCEL payload into its request id and body. */
export function splitRequestId(frame: Frame): { requestId: number; body: Uint8Array } {
  const requestId = requestIdOf(frame.type, frame.payload, 0, frame.payload.byteLength);
  return { requestId, body: frame.payload.subarray(4) };
}

/** `bytes[start, end)` as a plain Uint8Array view: codecs take it as is, without re-wrapping. */
export function payloadView(bytes: Uint8Array, start: number, end: number): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start);
}

export const EMPTY = new Uint8Array(0);

/** Receives the frames a {@link FrameDecoder} finds. */
export interface FrameSink {
  /** A complete frame: its header fields, and its payload as `bytes[start, end)`. */
  onFrame(
    type: FrameTypeCode,
    fdCount: number,
    id: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void;
}

/**
 * Cuts a byte stream into frames. Bytes arrive in arbitrary pieces; `push` returns the frames
 * completed so far and keeps the rest. Anything malformed — an unknown type, nonzero flags, a
 * payload over `maxFrameSize` — throws a `ProtocolError` naming it, as soon as the header is
 * in (so a hostile length cannot make us allocate or wait).
 *
 * Payloads are views into the pushed chunks, not copies: the caller must not reuse a chunk
 * after pushing it (socket reads deliver a fresh buffer each time). A frame split across
 * chunks is joined once, when its last byte arrives, however many pieces it came in — except,
 * with `splitData`, a DATA frame: its payload is a run of stream bytes, so it is passed on in
 * the pieces it arrives in (each as a DATA frame of the same id; the frame's fds, if any, with
 * the first), sparing a copy of every bulk frame that spans socket reads.
 */
export class FrameDecoder {
  /** Chunks holding the start of an incomplete frame. */
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** The size of the incomplete frame once its header is known, else 0. */
  #needed = 0;
  /** Payload bytes still to come of the DATA frame being passed on in pieces (`splitData`). */
  #dataRemaining = 0;
  #dataId = 0;
  /** The fds of that frame, until a piece of it has been passed on. */
  #dataFds = 0;

  constructor(
    readonly maxFrameSize: number,
    readonly options: { readonly splitData?: boolean } = {},
  ) {}

  /** Bytes received but not yet part of a complete frame. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /** Returns the frames `chunk` completes (payloads are views of the chunks). */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    this.feed(chunk, {
      onFrame(type, fdCount, id, bytes, start, end) {
        frames.push({ type, flags: 0, fdCount, id, payload: payloadView(bytes, start, end) });
      },
    });
    return frames;
  }

  /**
   * Passes each frame `chunk` completes to `sink`, as it is found: no frame objects or views are
   * made (the receiving hot path). A frame's payload is `bytes[start, end)`; the decoder never
   * writes to `bytes`. If the sink throws, the decoder must not be used again.
   */
  feed(chunk: Uint8Array, sink: FrameSink): void {
    // Payloads are handed on as plain Uint8Arrays: views and copies of a Buffer would be
    // Buffers too, which cost more to make than plain ones.
    chunk = plainView(chunk);
    let offset = 0;
    if (this.#dataRemaining > 0) {
      offset = this.#passData(chunk, 0, sink);
    } else if (this.#pendingBytes > 0) {
      if (
        this.#needed === 0 &&
        this.#pendingBytes + chunk.byteLength >= HEADER_SIZE &&
        this.#dataHeadPending(chunk)
      ) {
        offset = this.#startDataAcross(chunk, sink);
      } else {
        this.#pending.push(chunk);
        this.#pendingBytes += chunk.byteLength;
        if (this.#needed === 0 && this.#pendingBytes >= HEADER_SIZE) {
          const head = join(this.#pending, this.#pendingBytes);
          this.#pending = [head];
          this.#needed = HEADER_SIZE + this.#check(head, 0);
        }
        if (this.#needed === 0 || this.#pendingBytes < this.#needed) return;
        chunk = join(this.#pending, this.#pendingBytes);
        this.#pending = [];
        this.#pendingBytes = 0;
        this.#needed = 0;
      }
    }
    while (chunk.byteLength - offset >= HEADER_SIZE) {
      const length = this.#check(chunk, offset);
      const start = offset + HEADER_SIZE;
      const type = chunk[offset + 4] as FrameTypeCode;
      if (chunk.byteLength < start + length) {
        if (type === FrameType.DATA && this.options.splitData === true) {
          const fdCount = (chunk[offset + 6]! << 8) | chunk[offset + 7]!;
          offset = this.#startData(readU32(chunk, offset + 8), fdCount, length, chunk, start, sink);
          continue;
        }
        this.#needed = HEADER_SIZE + length;
        break;
      }
      offset = start + length;
      sink.onFrame(
        type,
        (chunk[start - 6]! << 8) | chunk[start - 5]!,
        readU32(chunk, start - 4),
        chunk,
        start,
        offset,
      );
    }
    if (offset < chunk.byteLength) {
      const rest = chunk.subarray(offset);
      this.#pending = [rest];
      this.#pendingBytes = rest.byteLength;
    }
  }

  /** Whether the header split between `#pending` and `chunk` is a DATA frame's, to pass on in pieces. */
  #dataHeadPending(chunk: Uint8Array): boolean {
    if (this.options.splitData !== true) return false;
    const at = 4 - this.#pendingBytes; // where the type byte is in `chunk`, when not pending
    const type =
      at >= 0
        ? chunk[at]
        : this.#pending.length === 1
          ? this.#pending[0]![4]
          : join(this.#pending, this.#pendingBytes)[4];
    return type === FrameType.DATA;
  }

  /** Starts a DATA frame whose header began in `#pending`: only the header's bytes are copied. */
  #startDataAcross(chunk: Uint8Array, sink: FrameSink): number {
    const head = new Uint8Array(HEADER_SIZE);
    let filled = 0;
    for (const piece of this.#pending) {
      head.set(piece, filled);
      filled += piece.byteLength;
    }
    const used = HEADER_SIZE - filled;
    head.set(chunk.subarray(0, used), filled);
    this.#pending = [];
    this.#pendingBytes = 0;
    const length = this.#check(head, 0);
    const fdCount = (head[6]! << 8) | head[7]!;
    return this.#startData(readU32(head, 8), fdCount, length, chunk, used, sink);
  }

  /** A DATA frame of `length` payload bytes from `chunk[start]` on: passes on what is here. */
  #startData(
    id: number,
    fdCount: number,
    length: number,
    chunk: Uint8Array,
    start: number,
    sink: FrameSink,
  ): number {
    this.#dataId = id;
    this.#dataFds = fdCount;
    this.#dataRemaining = length;
    if (length === 0) {
      sink.onFrame(FrameType.DATA, fdCount, id, chunk, start, start);
      return start;
    }
    return this.#passData(chunk, start, sink);
  }

  /** Passes on the next piece of the DATA frame in progress; returns where the piece ends. */
  #passData(chunk: Uint8Array, start: number, sink: FrameSink): number {
    const end = start + Math.min(this.#dataRemaining, chunk.byteLength - start);
    if (end === start) return start;
    this.#dataRemaining -= end - start;
    const fdCount = this.#dataFds;
    this.#dataFds = 0;
    sink.onFrame(FrameType.DATA, fdCount, this.#dataId, chunk, start, end);
    return end;
  }

  /** Validates the header at `offset`; returns the payload length. */
  #check(buffer: Uint8Array, offset: number): number {
    const length = readU32(buffer, offset);
    const type = buffer[offset + 4]!;
    const flags = buffer[offset + 5]!;
    if (KNOWN[type] !== 1) {
      throw new ProtocolError("EFRAME_TYPE", `unknown frame type 0x${type.toString(16).padStart(2, "0")}`);
    }
    if (flags !== 0) throw new ProtocolError("EFRAME_FLAGS", `frame flags must be 0, got ${flags}`);
    if (length > this.maxFrameSize) {
      throw new ProtocolError(
        "EFRAME_TOO_LARGE",
        `${frameTypeName(type)} frame of ${length} bytes exceeds the limit of ${this.maxFrameSize}`,
      );
    }
    return length;
  }
}

function join(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  // Unzeroed (every byte is written below), as a plain view.
  const joined = plainView(Buffer.allocUnsafe(total));
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return joined;
}
