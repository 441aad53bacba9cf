// A session spoken by hand, for feeding a hub hostile bytes and judging how it answers. After
// the input, a PING asks whether the session survived; the hub must then either answer PONG
// (the input was acceptable), or send GOAWAY with a code and close (it was not). Closing with no
// GOAWAY, or not answering at all, is a finding — unless the input itself said GOAWAY.
import { writeFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ClientHttp2Session } from "node:http2";
import { WebSocket } from "ws";
import { codecByName, type Codec } from "../../codecs/index.js";
import { decodeHello } from "../../wire/hello.js";
import { encodeFrame, FrameDecoder, FrameType, HEADER_SIZE, readU32, type Frame } from "../../wire/frame.js";
import {
  SESSION_CONTENT_TYPE,
  SESSION_PATH,
  WEBSOCKET_PATH,
  WEBSOCKET_PROTOCOL,
} from "../../transports/http2/paths.js";
import { within } from "../compliance/suite.js";
import { concat } from "./mutate.js";

/** One raw session: bytes out, the hub's frames in. */
export interface RawSession {
  write(bytes: Uint8Array): void;
  readonly frames: Frame[];
  /** Resolves when the hub closed the session (or the connection failed). */
  readonly closed: Promise<void>;
  /** A frame arrived (the frames so far are in `frames`). */
  onFrame(listener: () => void): void;
  destroy(): void;
  /** How the transport under the session ended, if it says (an HTTP/2 RST_STREAM code). */
  ending?(): string;
}

function collecting(): {
  frames: Frame[];
  push(chunk: Uint8Array): void;
  onFrame(listener: () => void): void;
} {
  const decoder = new FrameDecoder(0xffffffff);
  const frames: Frame[] = [];
  const listeners: (() => void)[] = [];
  return {
    frames,
    push(chunk) {
      const found = decoder.push(Uint8Array.from(chunk));
      if (found.length === 0) return;
      frames.push(...found);
      for (const listener of listeners) listener();
    },
    onFrame: (listener) => listeners.push(listener),
  };
}

/** A raw session on a Unix socket. */
export async function rawUnix(path: string): Promise<RawSession> {
  const socket = netConnect(path);
  socket.on("error", () => undefined);
  const sink = collecting();
  socket.on("data", (chunk: Buffer) => sink.push(chunk));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await within(new Promise((resolve) => socket.once("connect", resolve)), 3000, "the Unix socket to connect");
  return {
    write: (bytes) => socket.write(bytes),
    frames: sink.frames,
    closed,
    onFrame: sink.onFrame,
    destroy: () => socket.destroy(),
  };
}

/** A raw session on a new stream of an HTTP/2 connection. */
export function rawHttp2Stream(session: ClientHttp2Session): RawSession {
  const stream = session.request(
    { ":method": "POST", ":path": SESSION_PATH, "content-type": SESSION_CONTENT_TYPE },
    { endStream: false },
  );
  stream.on("error", () => undefined);
  const sink = collecting();
  stream.on("data", (chunk: Buffer) => sink.push(chunk));
  const closed = new Promise<void>((resolve) => {
    stream.once("close", () => resolve());
    stream.once("end", () => resolve());
  });
  return {
    write: (bytes) => stream.write(bytes),
    frames: sink.frames,
    closed,
    onFrame: sink.onFrame,
    destroy: () => stream.close(),
    ending: () => `RST_STREAM ${stream.rstCode}`,
  };
}

/** A raw session on a WebSocket; each write is one binary message. */
export async function rawWebSocket(httpsUrl: string, ca: string): Promise<RawSession> {
  const socket = new WebSocket(
    `${httpsUrl.replace("https:", "wss:")}${WEBSOCKET_PATH}`,
    [WEBSOCKET_PROTOCOL],
    { ca },
  );
  socket.on("error", () => undefined);
  const sink = collecting();
  socket.on("message", (data: Buffer) => sink.push(data));
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await within(
    new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    }),
    5000,
    "the WebSocket to open",
  );
  return {
    write: (bytes) => socket.send(bytes),
    frames: sink.frames,
    closed,
    onFrame: sink.onFrame,
    destroy: () => socket.terminate(),
  };
}

/** What {@link completeFraming} made of an input. */
export interface Framed {
  /** The input, padded with zeros to end on a frame boundary when that is cheap. */
  bytes: Uint8Array;
  /** A frame header the hub must refuse on sight (unknown type, flags, too large). */
  brokenHeader: boolean;
  /** The input holds a GOAWAY frame before anything broken: the hub may close without one. */
  saysGoaway: boolean;
  /** A frame's declared length is too large to pad: the hub waits for bytes nobody sends. */
  unfinished: boolean;
}

const KNOWN_TYPES = new Set<number>(Object.values(FrameType));
const PAD_LIMIT = 1 << 20;

/**
 * Walks the input's frame headers as the hub will and pads a frame cut short (with zeros), so
 * the PING behind it is read as a frame of its own.
 */
export function completeFraming(input: Uint8Array, maxFrameSize = 16 * 1024 * 1024): Framed {
  let bytes = input;
  let offset = 0;
  let saysGoaway = false;
  while (offset < bytes.length) {
    // A partial header is completed with zeros (and then judged like any other).
    if (offset + HEADER_SIZE > bytes.length)
      bytes = concat([bytes, new Uint8Array(offset + HEADER_SIZE - bytes.length)]);
    const length = readU32(bytes, offset);
    const type = bytes[offset + 4]!;
    if (!KNOWN_TYPES.has(type) || bytes[offset + 5] !== 0 || length > maxFrameSize) {
      return { bytes, brokenHeader: true, saysGoaway, unfinished: false };
    }
    if (type === FrameType.GOAWAY) saysGoaway = true;
    offset += HEADER_SIZE + length;
  }
  if (offset > bytes.length) {
    const missing = offset - bytes.length;
    if (missing > PAD_LIMIT) return { bytes, brokenHeader: false, saysGoaway, unfinished: true };
    bytes = concat([bytes, new Uint8Array(missing)]);
  }
  return { bytes, brokenHeader: false, saysGoaway, unfinished: false };
}

/** How a hub answered one input. */
export type Verdict = "alive" | "goaway" | "closed-after-goaway-input" | "unfinished";

const CODE = /^E[A-Z0-9_]+$/;

/**
 * Sends `input` (then a PING) on `raw` in at most `pieces` writes and judges the answer:
 * returns the verdict, or throws a finding naming what went wrong.
 */
export async function judge(raw: RawSession, input: Uint8Array, cuts: number[] = []): Promise<Verdict> {
  const framed = completeFraming(input);
  const nonce = Uint8Array.from(Buffer.from(Math.random().toString(16).slice(2, 10).padEnd(8, "0")));
  const ping = encodeFrame(FrameType.PING, 0, nonce);
  let from = 0;
  for (const cut of [
    ...cuts.map((at) => at % (framed.bytes.length + 1)).sort((a, b) => a - b),
    framed.bytes.length,
  ]) {
    if (cut > from) raw.write(framed.bytes.subarray(from, cut));
    from = Math.max(from, cut);
  }
  if (framed.unfinished) {
    raw.destroy();
    return "unfinished";
  }
  raw.write(ping);
  const answered = new Promise<"pong" | "goaway">((resolve) => {
    const check = (): void => {
      if (raw.frames.some((frame) => frame.type === FrameType.GOAWAY)) resolve("goaway");
      else if (
        raw.frames.some((frame) => frame.type === FrameType.PONG && Buffer.from(frame.payload).equals(nonce))
      )
        resolve("pong");
    };
    raw.onFrame(check);
    check();
  });
  const outcome = await within(
    Promise.race([answered, raw.closed.then(() => "closed" as const)]),
    5000,
    "the hub to answer the PING or say GOAWAY",
  ).catch((error: Error) => {
    throw new Error(`finding: ${error.message} (input ${hex(input)})`);
  });
  // The frames that came with a close may still be in the decoder's last chunk: let them land.
  await new Promise((resolve) => setImmediate(resolve));
  checkFailFrames(raw.frames, input);
  const goaway = raw.frames.find((frame) => frame.type === FrameType.GOAWAY);
  if (goaway !== undefined) {
    const body = JSON.parse(new TextDecoder().decode(goaway.payload)) as {
      code?: unknown;
      message?: unknown;
    };
    if (typeof body.code !== "string" || !CODE.test(body.code) || typeof body.message !== "string") {
      throw new Error(`finding: a GOAWAY without a code: ${JSON.stringify(body)} (input ${hex(input)})`);
    }
    await within(raw.closed, 5000, "the hub to close after its GOAWAY");
    // The hub ended its side; ending ours frees the HTTP/2 stream (a half-closed stream would
    // count against the connection's concurrent streams until the hub refuses new ones).
    raw.destroy();
    return "goaway";
  }
  if (outcome === "pong") {
    raw.destroy();
    return "alive";
  }
  raw.destroy();
  if (framed.saysGoaway) return "closed-after-goaway-input";
  const types = raw.frames.map((frame) => frame.type.toString(16)).join(" ");
  throw new Error(
    `finding: the hub closed the session without a GOAWAY (frames received: ${types}; ${raw.ending?.() ?? ""}) (input ${hex(input)})`,
  );
}

/** Every FAIL the hub sent carries an error with a code. */
function checkFailFrames(frames: readonly Frame[], input: Uint8Array): void {
  const codec = sessionCodec(frames, input);
  if (codec === undefined) return;
  for (const frame of frames) {
    if (frame.type !== FrameType.FAIL) continue;
    const error = codec.decode(frame.payload.subarray(4), {
      toRef: () => {
        throw new Error("not encoding");
      },
      fromRef: (ref) => ref,
    }) as { code?: unknown };
    if (typeof error?.code !== "string" || error.code.length === 0) {
      throw new Error(`finding: a FAIL without a code: ${JSON.stringify(error)} (input ${hex(input)})`);
    }
  }
}

/** The session's codec: the first the client's HELLO (the input's first frame) offers that the hub's lists. */
function sessionCodec(frames: readonly Frame[], input: Uint8Array): Codec | undefined {
  const hello = frames.find((frame) => frame.type === FrameType.HELLO);
  if (hello === undefined || input.length < HEADER_SIZE || input[4] !== FrameType.HELLO) return undefined;
  try {
    const ours = decodeHello(input.subarray(HEADER_SIZE, HEADER_SIZE + readU32(input, 0)));
    const theirs = decodeHello(hello.payload);
    const name = ours.codecs.find((candidate) => theirs.codecs.includes(candidate));
    return name === undefined ? undefined : codecByName(name);
  } catch {
    return undefined; // the hub refused that HELLO: no FAIL can follow
  }
}

/** The input, for a finding's message: its start in hex, and a file with all of it for replaying. */
function hex(bytes: Uint8Array): string {
  const file = join(tmpdir(), `beamhub-fuzz-finding-${process.pid}-${++findings}.bin`);
  writeFileSync(file, bytes);
  const text = Buffer.from(bytes).toString("hex");
  return `${bytes.length} bytes in ${file}: ${text.length > 400 ? `${text.slice(0, 400)}...` : text}`;
}

let findings = 0;
