// The least a request/response mechanism over a Unix socket does per call, as a contender for
// bench/unix.ts: the raw echo there answers whole reads without looking at a message, which no
// call mechanism can do. Here every request is a frame [u32 length][u32 id][u8 name length][name]
// [payload]; the server parses each one, finds its handler by name and frames its answer
// [u32 length][u32 id][payload]; the client gives each call an id and a promise and settles it
// from its answer. No codec, no deadline, no errors, no bookkeeping.
//
// It is pipelined the way beamhub's writer is (wire/batched-writer.ts), so that it is bound by
// CPU and not by round trips: both sides queue frames into one buffer and write the first 16 of
// a turn at once (the peer starts on them while this side produces the rest), then slices of
// twice the last (32, 64, ...), and what is left at the end of the turn (setImmediate). An earlier
// version wrote only a turn's (or a read's) whole batch: the two processes took turns and each
// was 80–90 % idle (issue 19), so it measured round trips, not what a call costs. Request ids
// index a table of slots (as wire/id-table.ts does), not a `Map`: a `Map` rehashed every ~100
// calls with requests in flight keeps them alive through young-generation GCs (RESULTS.md).
import net from "node:net";

/** Frames in the first write of a turn; each further write of the same turn waits for twice as many. */
const FIRST_SLICE_FRAMES = 16;
/** Slots of the client's id table: more than the calls it may have in flight. */
const SLOTS = 4096;

/**
 * Splits a byte stream into [u32 length][body] frames and calls `onFrame(buffer, start, end)`
 * with each body where it lies (no view per frame); a frame split across reads is joined.
 */
class FrameReader {
  #pending: Buffer | undefined;

  constructor(private readonly onFrame: (buffer: Buffer, start: number, end: number) => void) {}

  push(data: Buffer): void {
    const buffer = this.#pending === undefined ? data : Buffer.concat([this.#pending, data]);
    const length = buffer.length;
    let offset = 0;
    while (length - offset >= 4) {
      const end = offset + 4 + buffer.readUInt32BE(offset);
      if (end > length) break;
      this.onFrame(buffer, offset + 4, end);
      offset = end;
    }
    this.#pending = offset === length ? undefined : buffer.subarray(offset);
  }
}

/**
 * Frames written back to back into one buffer and written in slices that double within a turn
 * (see the file's comment), the rest at the end of the turn.
 */
class SlicedWriter {
  buffer = Buffer.allocUnsafe(64 * 1024);
  #used = 0;
  #frames = 0;
  #sliceFrames = FIRST_SLICE_FRAMES;
  #scheduled = false;

  constructor(private readonly socket: net.Socket) {}

  /** Room for a frame of `length` bytes; returns where it goes. Call {@link queued} once it is written. */
  reserve(length: number): number {
    if (this.#used + length > this.buffer.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.#used + length));
      this.buffer.copy(bigger, 0, 0, this.#used);
      this.buffer = bigger;
    }
    const at = this.#used;
    this.#used += length;
    return at;
  }

  /** A frame was written into the reserved room: write a slice now if it is long, else later. */
  queued(): void {
    if (++this.#frames >= this.#sliceFrames) {
      this.#sliceFrames *= 2;
      this.#flush();
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#endOfTurn);
    }
  }

  readonly #endOfTurn = (): void => {
    this.#scheduled = false;
    this.#sliceFrames = FIRST_SLICE_FRAMES;
    this.#flush();
  };

  #flush(): void {
    if (this.#used === 0) return;
    const taken = this.buffer.subarray(0, this.#used);
    // The written bytes belong to the socket until it has sent them: the next go into a new slab
    // (what is left of this one, if it is large enough).
    const rest = this.buffer.length - this.#used;
    this.buffer = rest >= 8 * 1024 ? this.buffer.subarray(this.#used) : Buffer.allocUnsafe(64 * 1024);
    this.#used = 0;
    this.#frames = 0;
    this.socket.write(taken);
  }
}

type RawHandler = (payload: Buffer) => Buffer;

/** Listens on `path`; answers each request by its handler (found by name). */
export function listenRawRpc(path: string, handlers: ReadonlyMap<string, RawHandler>): net.Server {
  return net
    .createServer((socket) => {
      const out = new SlicedWriter(socket);
      const reader = new FrameReader((body, start, end) => {
        const nameLength = body[start + 4]!;
        const name = body.toString("latin1", start + 5, start + 5 + nameLength);
        const result = handlers.get(name)!(body.subarray(start + 5 + nameLength, end));
        const at = out.reserve(8 + result.length);
        const buffer = out.buffer;
        buffer.writeUInt32BE(4 + result.length, at);
        body.copy(buffer, at + 4, start, start + 4); // the request's id
        buffer.set(result, at + 8);
        out.queued();
      });
      socket.on("data", (data: Buffer) => reader.push(data));
      socket.on("error", () => {});
    })
    .listen(path);
}

/** A client of {@link listenRawRpc}. */
export class RawRpcClient {
  readonly #socket: net.Socket;
  /** The settle function of the call whose id is `id % SLOTS`. */
  readonly #slots: (((payload: Buffer) => void) | undefined)[] = new Array<undefined>(SLOTS).fill(undefined);
  #nextId = 0;
  readonly #out: SlicedWriter;
  #settle: ((payload: Buffer) => void) | undefined;
  readonly #keep = (resolve: (payload: Buffer) => void): void => {
    this.#settle = resolve;
  };

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    this.#out = new SlicedWriter(socket);
    const reader = new FrameReader((body, start, end) => {
      const slot = body.readUInt32BE(start) % SLOTS;
      const settle = this.#slots[slot]!;
      this.#slots[slot] = undefined;
      settle(body.subarray(start + 4, end));
    });
    socket.on("data", (data: Buffer) => reader.push(data));
  }

  static async connect(path: string): Promise<RawRpcClient> {
    const socket = net.connect(path);
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return new RawRpcClient(socket);
  }

  call(name: string, payload: Uint8Array): Promise<Buffer> {
    const id = this.#nextId;
    this.#nextId = (id + 1) >>> 0;
    const slot = id % SLOTS;
    if (this.#slots[slot] !== undefined) throw new Error(`raw RPC: more than ${SLOTS} calls in flight`);
    const out = this.#out;
    const at = out.reserve(9 + name.length + payload.length);
    const request = out.buffer;
    request.writeUInt32BE(5 + name.length + payload.length, at);
    request.writeUInt32BE(id, at + 4);
    request[at + 8] = name.length;
    request.write(name, at + 9, "latin1");
    request.set(payload, at + 9 + name.length);
    out.queued();
    const promise = new Promise<Buffer>(this.#keep);
    this.#slots[slot] = this.#settle;
    return promise;
  }

  close(): void {
    this.#socket.destroy();
  }
}
