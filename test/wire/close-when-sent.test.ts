// What a session's close owes its peer, over real Unix sockets in one process: a socket that
// closes with bytes queued for a peer that never reads gives up after its stall bound (it does not
// hold the fd and the process forever); `closeWhenSent` waits for the last bytes and END of a
// stream whose writer finished but are held back by the peer's credit, and does not wait for a
// stream still being written (abandoned by the close, as before).
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { ByteStream, connectUnix, Hub, listenUnix, type UnixListener } from "../../index.js";
import { closeLingering, transportFor } from "../../transports/unix/unix-transport.js";
import { openSession } from "../../wire/open-session.js";
import { within } from "../faults/processes.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
/** Streams the hub's "hold" service was given: read only when a test says so. */
const held: ByteStream[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-close-sent-"));
  hub = new Hub();
  await hub.register("hold", ({ stream }: { stream: ByteStream }) => {
    held.push(stream);
    return "holding";
  });
  listener = await listenUnix(hub, join(dir, "hub.sock"));
});

afterAll(async () => {
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

async function readAll(stream: ByteStream): Promise<{ bytes: number; sha: string }> {
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream.readable) {
    hash.update(chunk);
    bytes += chunk.byteLength;
  }
  return { bytes, sha: hash.digest("hex") };
}

it("a closing socket whose peer takes nothing is dropped after the stall bound, its promise kept", async () => {
  const [a, b] = socketPair();
  const writer = FdSocket.fromFd(a);
  const reader = FdSocket.fromFd(b);
  reader.pause(); // reads nothing, as a frozen peer
  writer.on("error", () => undefined);
  writer.write(Buffer.alloc(4 * 1024 * 1024));
  await new Promise((resolve) => setImmediate(resolve));
  expect(writer.writableLength).toBeGreaterThan(0);
  await within(closeLingering(writer, 200), 5000, "the close to give up on the peer");
  expect(writer.destroyed).toBe(true);
  reader.destroy();
});

it("a closing socket whose bytes all left resolves and tells the peer (END), without waiting for it", async () => {
  const [a, b] = socketPair();
  const writer = FdSocket.fromFd(a);
  const reader = FdSocket.fromFd(b);
  let received = 0;
  const ended = new Promise<void>((resolve) => reader.once("end", () => resolve()));
  reader.on("data", (data) => (received += data.length));
  writer.on("error", () => undefined);
  writer.write(Buffer.alloc(256 * 1024));
  await within(closeLingering(writer), 5000, "the close to resolve once the bytes left");
  await within(ended, 5000, "the reader to see the end");
  expect(received).toBe(256 * 1024);
  reader.destroy();
  await within(new Promise((resolve) => writer.once("close", resolve)), 5000, "the writer to close");
});

/** The chunk a held stream is filled with. */
const CHUNK = Buffer.alloc(64 * 1024, 7);
/** One window (1 MiB) and a chunk more: the last chunk waits for the hub's credit. */
const CHUNKS = 17;

/**
 * A client that gave the hub's "hold" service a stream and wrote one window and a chunk more into
 * it; the service's end is not read yet, so the last chunk waits for its credit.
 */
async function heldStream() {
  const client = await connectUnix(listener.path);
  const [mine, theirs] = ByteStream.pair();
  expect(await client.call("hold", { stream: theirs })).toBe("holding");
  const writer = mine.writable.getWriter();
  for (let i = 0; i < CHUNKS; i++) await writer.write(CHUNK);
  return { client, writer, stream: held.at(-1)! };
}

it("closeWhenSent waits for a finished stream's bytes held back by credit, END included", async () => {
  const { client, writer, stream } = await heldStream();
  await writer.close();
  const closing = client.close();
  const read = readAll(stream);
  await within(closing, 10_000, "the close");
  const expected = createHash("sha256");
  for (let i = 0; i < CHUNKS; i++) expected.update(CHUNK);
  expect(await within(read, 10_000, "the service to read to the END")).toEqual({
    bytes: CHUNKS * CHUNK.length,
    sha: expected.digest("hex"),
  });
});

it("closeWhenSent does not wait for a stream still being written (it is cut, as by close)", async () => {
  const { client, stream } = await heldStream();
  // Not closed: the session's close abandons it, well before the 10 s a finished one may wait.
  await within(client.close(), 5000, "the close");
  await expect(within(readAll(stream), 5000, "the read to fail")).rejects.toMatchObject({
    code: "ESTREAM_RESET",
  });
});

it("openSession's connection resolves finished after close on a session whose peer read everything", async () => {
  const [a, b] = socketPair();
  const client = openSession(transportFor(FdSocket.fromFd(a)), { role: "client", codecs: [cborCodec] });
  const server = openSession(transportFor(FdSocket.fromFd(b)), { role: "server", codecs: [cborCodec] });
  server.connection.root.handle((data) => data);
  await within(client.connection.ready, 5000, "the handshake");
  expect(await client.connection.root.request("x")).toBe("x");
  await within(client.connection.closeWhenSent("done"), 5000, "closeWhenSent");
  await within(server.connection.closed, 5000, "the server to see the close");
  await within(server.connection.finished, 5000, "the server's side to finish");
});
