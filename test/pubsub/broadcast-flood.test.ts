/**
 * A byte-stream broadcast flooded while a remote subscriber (another process, over a real Unix
 * socket) reads nothing of its copy: the hub's heap stays bounded by that subscriber's ring (or,
 * under `wait`, it is cut after the publish timeout and the publisher goes on) — not by the
 * size of the flood. Nothing here measures time.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../hub/hub.js";
import { listenUnix } from "../../hub/remote/listen-unix.js";
import type { UnixListener } from "../../hub/remote/unix.js";
import { within } from "../compliance/suite.js";
import { heapAfterGc } from "../helpers/heap.js";
import { spawnPeer, PEER_LIBRARY } from "../helpers/peer.js";

const MB = 1024 * 1024;
const CHUNK = 64 * 1024;

const dir = mkdtempSync(join(tmpdir(), "beamhub-broadcast-flood-"));
const socket = join(dir, "hub.sock");
let hub: Hub;
let listener: UnixListener;
let stalled: ChildProcessWithoutNullStreams;
const lines: string[] = [];
/** What the stalled peer wrote to stderr (shown when its report does not come). */
let peerErrors = "";
let lineArrived: (() => void) | undefined;

/** The next line the stalled peer prints, bounded. */
async function nextLine(what: string): Promise<string> {
  while (lines.length === 0) {
    await within(
      new Promise<void>((resolve) => (lineArrived = resolve)),
      20_000,
      `${what} (its stderr: ${peerErrors.slice(-2000) || "nothing"})`,
    );
  }
  return lines.shift()!;
}

beforeAll(async () => {
  // A short publish timeout: the `wait` subscriber below is cut after it.
  hub = new Hub({ pubsub: { publishTimeout: 1000 } });
  // Keep-alive at 10 s on both ends: the flood and the forced full GCs below keep this process
  // busy, and on a loaded machine (CI ran it at load 12) 4 s of silence once cut the
  // subscriber's session — liveness is not what this file tests.
  listener = await listenUnix(hub, socket, { keepAlive: 10_000 });
  // Subscribes to two channels, takes each broadcast's message, and never reads a copy. For the
  // `wait` one it reports how its copy ended.
  stalled = await spawnPeer(`
    const { connectUnix, StreamResetError } = await import(${PEER_LIBRARY});
    const hub = await connectUnix(${JSON.stringify(socket)}, { keepAlive: 10_000 });
    const dropping = hub.subscribe("bcast.drop", { history: false, ringBytes: ${MB} });
    const waiting = hub.subscribe("bcast.wait", { history: false, lag: "wait" });
    await dropping.ready;
    await waiting.ready;
    console.log("ready");
    const held = [];
    void (async () => {
      for await (const message of dropping) if (message.stream) held.push(message.stream);
    })();
    for await (const message of waiting) {
      if (!message.stream) continue;
      held.push(message.stream);
      await message.stream.closed;
      const failure = await message.stream.readable.getReader().read().then(() => undefined, (error) => error);
      console.log("cut " + failure?.name + " " + failure?.code + " " + (failure instanceof StreamResetError));
    }
  `);
  stalled.stderr.setEncoding("utf8").on("data", (text: string) => (peerErrors += text));
  stalled.stdout.setEncoding("utf8").on("data", (text: string) => {
    lines.push(...text.split("\n").filter((line) => line !== "" && line !== "ready"));
    lineArrived?.();
  });
}, 30_000);

afterAll(async () => {
  stalled?.kill("SIGKILL");
  await listener?.close();
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Writes `total` bytes in fresh chunks (nothing shared keeps the flood cheap by accident). */
async function flood(writer: WritableStreamDefaultWriter<Uint8Array>, total: number): Promise<number> {
  const before = heapAfterGc();
  let peak = 0;
  for (let written = 0, i = 0; written < total; written += CHUNK, i++) {
    await within(writer.write(new Uint8Array(CHUNK).fill(i & 0xff)), 20_000, `write ${i}`);
    if (i % 256 === 255) {
      await new Promise((resolve) => setImmediate(resolve));
      peak = Math.max(peak, heapAfterGc() - before);
    }
  }
  return Math.max(peak, heapAfterGc() - before);
}

describe("byte-stream broadcast under a flood", () => {
  it(
    "keeps the hub's heap bounded while a remote drop-oldest subscriber reads nothing of its copy",
    { timeout: 120_000 },
    async () => {
      const { stream } = await hub.broadcast("bcast.drop");
      const writer = stream.writable.getWriter();
      // 64 MiB into a copy nobody reads: its ring (1 MiB), its buffer (64 KiB) and its stream
      // window (1 MiB) and socket buffers are all the hub may hold.
      const peak = await flood(writer, 64 * MB);
      expect(peak).toBeLessThan(24 * MB);
      await writer.close();
      expect(hub.pubsub.channels().find((info) => info.name === "bcast.drop")?.subscribers).toBe(1);
    },
  );

  it(
    "cuts a remote wait subscriber that reads nothing after the publish timeout; the publisher goes on",
    { timeout: 120_000 },
    async () => {
      const { stream } = await hub.broadcast("bcast.wait");
      const writer = stream.writable.getWriter();
      // Held back at first (the copy fills), then cut; every write completes, memory stays bounded.
      const peak = await flood(writer, 32 * MB);
      expect(peak).toBeLessThan(24 * MB);
      await writer.close();
      expect(await nextLine("the stalled peer's report")).toBe(
        "cut SubscriberTooSlowError ESUBSCRIBER_TOO_SLOW true",
      );
    },
  );
});
