// The keep-alive judges a peer alive while it takes the bytes this side sends, not only by what it
// sends back (wire/keep-alive.ts): a peer that reads a long backlog slowly (a starved subscriber)
// reads a PING only after everything queued before it, so its PONG can come later than the
// keep-alive's bound although it reads all the while. A peer that takes nothing is still dropped
// within the bound. And a verdict waits for the input this process has not read yet: a stall of
// this process far beyond the bound does not drop a peer that answered meanwhile.
import { createHash } from "node:crypto";
import { afterEach, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { ByteStream, ConnectionLostError } from "../../index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import type { WireConnection } from "../../wire/connection.js";
import { openSession } from "../../wire/open-session.js";
import { within } from "../faults/processes.js";

const KEEP_ALIVE_MS = 200; // dead after 400 ms of silence
const SIZE = 6 * 1024 * 1024;
const timers: NodeJS.Timeout[] = [];
const sessions: WireConnection[] = [];

afterEach(() => {
  for (const timer of timers) clearInterval(timer);
  timers.length = 0;
  for (const session of sessions) session.close();
  sessions.length = 0;
});

/**
 * A sender with the short keep-alive and a receiver without one (it only answers PINGs), whose
 * socket reads in short bursts every `burstEveryMs` (never, when 0), as a starved process would.
 */
async function backedUpPair(burstEveryMs: number) {
  const [a, b] = socketPair();
  const receiverSocket = FdSocket.fromFd(b);
  const sender = openSession(transportFor(FdSocket.fromFd(a)), {
    role: "client",
    codecs: [cborCodec],
    keepAlive: KEEP_ALIVE_MS,
  }).connection;
  const receiver = openSession(transportFor(receiverSocket), {
    role: "server",
    codecs: [cborCodec],
    keepAlive: 0,
    // The whole stream fits in its window: no WINDOW frame goes back while it is read.
    streamWindow: 16 * 1024 * 1024,
  }).connection;
  sessions.push(sender, receiver);
  const streams: ByteStream[] = [];
  receiver.root.handle((data) => {
    streams.push((data as { stream: ByteStream }).stream);
    return "ok";
  });
  await within(Promise.all([sender.ready, receiver.ready]), 5000, "the handshake");
  const [mine, theirs] = ByteStream.pair();
  expect(await within(sender.root.request({ stream: theirs }), 5000, "the request")).toBe("ok");
  receiverSocket.pause();
  if (burstEveryMs > 0) {
    timers.push(
      setInterval(() => {
        receiverSocket.resume();
        setImmediate(() => receiverSocket.pause());
      }, burstEveryMs),
    );
  }
  return { sender, stream: streams[0]!, mine };
}

function pattern(): Buffer {
  const chunk = Buffer.alloc(64 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 7) % 256;
  return chunk;
}

it("a peer that reads a long backlog slowly is kept, though its PONG comes after the bound", async () => {
  const { sender, stream, mine } = await backedUpPair(50);
  const chunk = pattern();
  const port = mine.openPort()!;
  port.start({ data: () => undefined, end: () => undefined, drain: () => undefined, reset: () => undefined });
  for (let sent = 0; sent < SIZE; sent += chunk.length) port.write(chunk);
  port.end();
  const hash = createHash("sha256");
  let bytes = 0;
  const reading = (async () => {
    for await (const part of stream.readable) {
      hash.update(part);
      bytes += part.byteLength;
    }
  })();
  await within(reading, 15_000, "the slow reader to read the whole stream");
  const expected = createHash("sha256");
  for (let sent = 0; sent < SIZE; sent += chunk.length) expected.update(chunk);
  expect({ bytes, sha: hash.digest("hex") }).toEqual({ bytes: SIZE, sha: expected.digest("hex") });
  expect(sender.isClosed).toBe(false);
});

it("a peer that takes nothing of the backlog is still dropped (ConnectionLostError)", async () => {
  const { sender, mine } = await backedUpPair(0);
  const port = mine.openPort()!;
  port.start({ data: () => undefined, end: () => undefined, drain: () => undefined, reset: () => undefined });
  const chunk = pattern();
  for (let sent = 0; sent < SIZE; sent += chunk.length) port.write(chunk);
  expect(await within(sender.closed, 10_000, "the silent peer to be dropped")).toBeInstanceOf(
    ConnectionLostError,
  );
});
