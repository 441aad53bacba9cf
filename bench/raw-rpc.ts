// The least a request/response mechanism over a Unix socket does per call, as a contender for
// bench/unix.ts: the raw echo there answers whole reads without looking at a message, which no
// call mechanism can do. Here every request is a frame [u32 length][u32 id][u8 name length][name]
// [payload]; the server parses each one, finds its handler by name and frames its answer
// [u32 length][u32 id][payload], a read's answers in one write; the client gives each call an id
// and a promise, batches a turn's requests in one write (as beamhub's "immediate" batching does)
// and settles each promise from its answer. No codec, no deadline, no errors, no bookkeeping.
import net from "node:net";

/** Splits a byte stream into [u32 length][body] frames, calling `onFrame` with each body. */
class FrameReader {
  #pending: Buffer | undefined;

  constructor(private readonly onFrame: (body: Buffer) => void) {}

  push(data: Buffer): void {
    const buffer = this.#pending === undefined ? data : Buffer.concat([this.#pending, data]);
    let offset = 0;
    while (buffer.length - offset >= 4) {
      const length = buffer.readUInt32BE(offset);
      if (buffer.length - offset < 4 + length) break;
      this.onFrame(buffer.subarray(offset + 4, offset + 4 + length));
      offset += 4 + length;
    }
    this.#pending = offset === buffer.length ? undefined : buffer.subarray(offset);
  }
}

type RawHandler = (payload: Buffer) => Buffer;

/** Listens on `path`; answers each request by its handler (by name). */
export function listenRawRpc(path: string, handlers: ReadonlyMap<string, RawHandler>): net.Server {
  return net
    .createServer((socket) => {
      // A read's answers are framed into one buffer, written once.
      const out = new Slab();
      const reader = new FrameReader((body) => {
        const nameLength = body[4]!;
        const name = body.toString("latin1", 5, 5 + nameLength);
        const result = handlers.get(name)!(body.subarray(5 + nameLength));
        const at = out.reserve(8 + result.length);
        out.buffer.writeUInt32BE(4 + result.length, at);
        body.copy(out.buffer, at + 4, 0, 4); // the request's id
        result.copy(out.buffer, at + 8);
      });
      socket.on("data", (data: Buffer) => {
        reader.push(data);
        const answers = out.take();
        if (answers !== undefined) socket.write(answers);
      });
      socket.on("error", () => {});
    })
    .listen(path);
}

/** Bytes framed one after another into one buffer, taken (and written) as a whole. */
class Slab {
  buffer = Buffer.allocUnsafe(64 * 1024);
  #used = 0;

  /** Room for `length` more bytes; returns where they go. */
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

  /** What was framed, or undefined; the next bytes go into a fresh buffer. */
  take(): Buffer | undefined {
    if (this.#used === 0) return undefined;
    const taken = this.buffer.subarray(0, this.#used);
    this.buffer = Buffer.allocUnsafe(64 * 1024);
    this.#used = 0;
    return taken;
  }
}

/** A client of {@link listenRawRpc}. */
export class RawRpcClient {
  readonly #socket: net.Socket;
  readonly #pending = new Map<number, (payload: Buffer) => void>();
  #nextId = 0;
  readonly #out = new Slab();
  #flushing = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const reader = new FrameReader((body) => {
      const id = body.readUInt32BE(0);
      const settle = this.#pending.get(id)!;
      this.#pending.delete(id);
      settle(body.subarray(4));
    });
    socket.on("data", (data: Buffer) => reader.push(data));
  }

  static async connect(path: string): Promise<RawRpcClient> {
    const socket = net.connect(path);
    await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    return new RawRpcClient(socket);
  }

  call(name: string, payload: Uint8Array): Promise<Buffer> {
    const id = this.#nextId++ >>> 0;
    const at = this.#out.reserve(9 + name.length + payload.length);
    const request = this.#out.buffer;
    request.writeUInt32BE(5 + name.length + payload.length, at);
    request.writeUInt32BE(id, at + 4);
    request[at + 8] = name.length;
    request.write(name, at + 9, "latin1");
    request.set(payload, at + 9 + name.length);
    if (!this.#flushing) {
      this.#flushing = true;
      setImmediate(() => this.#flush());
    }
    return new Promise((resolve) => this.#pending.set(id, resolve));
  }

  close(): void {
    this.#socket.destroy();
  }

  #flush(): void {
    this.#flushing = false;
    const requests = this.#out.take();
    if (requests !== undefined) this.#socket.write(requests);
  }
}
