// A peer that speaks PROTOCOL.md bytes by hand over a real socket, for tests that need a peer
// the implementation would not be: one of before a feature, one that breaks a rule, one that
// never reads. It records every frame it reads.
import net from "node:net";
import { cborCodec } from "../../codecs/index.js";
import { Ref } from "../../codecs/reference.js";
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  splitRequestId,
  withRequestId,
  type Frame,
} from "../../wire/frame.js";
import { within } from "../compliance/suite.js";

const hooks = { toRef: (value: unknown) => value as Ref, fromRef: (ref: Ref) => ref };

/** A HELLO frame; `extra` adds or overrides fields (`eventWindow`, ...). */
export function helloFrame(extra: Record<string, unknown> = {}): Uint8Array {
  const hello = {
    protocol: "beamhub",
    version: 1,
    codecs: ["cbor"],
    maxFrameSize: 1 << 24,
    streamWindow: 1 << 20,
    fds: false,
    ...extra,
  };
  return encodeFrame(FrameType.HELLO, 0, new TextEncoder().encode(JSON.stringify(hello)));
}

/** A message frame with a CBOR body (`Ref`s in `body` are written as references). */
export function messageFrame(type: number, id: number, body: unknown, requestId?: number): Uint8Array {
  const encoded = cborCodec.encode(body, hooks);
  return encodeFrame(type, id, requestId === undefined ? encoded : withRequestId(requestId, encoded));
}

/** Decodes a message frame's CBOR body (and its request id, for REQUEST/REPLY/FAIL). */
export function bodyOf(frame: Frame): { requestId?: number; body: unknown } {
  const withId =
    frame.type === FrameType.REQUEST || frame.type === FrameType.REPLY || frame.type === FrameType.FAIL;
  if (!withId)
    return { body: frame.payload.byteLength === 0 ? undefined : cborCodec.decode(frame.payload, hooks) };
  const { requestId, body } = splitRequestId(frame);
  return { requestId, body: body.byteLength === 0 ? undefined : cborCodec.decode(body, hooks) };
}

export { Ref };

/** A raw connection to a Unix socket path (or an existing socket) that records frames. */
export class RawPeer {
  readonly frames: Frame[] = [];
  readonly socket: net.Socket;
  #decoder = new FrameDecoder(1 << 26);
  #waiters: (() => void)[] = [];
  closed = false;

  constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.frames.push(frame);
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => undefined);
  }

  static async connect(path: string): Promise<RawPeer> {
    const socket = net.connect(path);
    await within(new Promise((resolve) => socket.once("connect", resolve)), 3000, "the connection");
    return new RawPeer(socket);
  }

  send(...frames: Uint8Array[]): void {
    for (const frame of frames) this.socket.write(frame);
  }

  /** The first recorded frame that matches (waiting for it up to `ms`). */
  async next(match: (frame: Frame) => boolean, what: string, ms = 3000): Promise<Frame> {
    const find = (): Frame | undefined => this.frames.find(match);
    return within(
      new Promise<Frame>((resolve, reject) => {
        const check = (): void => {
          const found = find();
          if (found !== undefined) return resolve(found);
          if (this.closed) return reject(new Error(`the connection closed before ${what}`));
          this.#waiters.push(check);
        };
        check();
      }),
      ms,
      what,
    );
  }

  /** The GOAWAY's JSON, if one arrived. */
  goaway(): { code: string; message: string } | undefined {
    const frame = this.frames.find((item) => item.type === FrameType.GOAWAY);
    return frame === undefined ? undefined : JSON.parse(new TextDecoder().decode(frame.payload));
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter();
  }
}
