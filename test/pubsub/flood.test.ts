/**
 * A channel flooded while a remote subscriber (another process, over a real Unix socket) has
 * stopped reading: the hub's heap stays bounded by the subscriber's ring, the session's event
 * window and the channel's history — not by the size of the flood. Nothing here measures time.
 */
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub } from "../../hub/hub.js";
import { listenUnix } from "../../hub/remote/listen-unix.js";
import type { UnixListener } from "../../hub/remote/unix.js";
import { heapAfterGc } from "../helpers/heap.js";
import { spawnPeer, PEER_LIBRARY } from "../helpers/peer.js";

const MB = 1024 * 1024;
/** 40 000 messages of 4 KiB: 160 MiB through one channel. */
const MESSAGES = 40_000;
const SIZE = 4096;
/** Heap growth allowed: ring (256 × 4 KiB) + event window + history (1 MiB) + slack, far below the flood. */
const BOUND = 24 * MB;

const dir = mkdtempSync(join(tmpdir(), "beamhub-pubsub-flood-"));
const socket = join(dir, "hub.sock");
let hub: Hub;
let listener: UnixListener;
let stalled: ChildProcessWithoutNullStreams;

beforeAll(async () => {
  hub = new Hub();
  listener = await listenUnix(hub, socket);
  // Subscribes, says so, and never reads.
  stalled = await spawnPeer(`
    const { connectUnix } = await import(${PEER_LIBRARY});
    const hub = await connectUnix(${JSON.stringify(socket)});
    const subscription = hub.subscribe("flood", { history: false, ring: 256 });
    // The default ring (1024 messages) of 64 KiB messages: the byte cap (8 MiB) must bound it.
    const big = hub.subscribe("flood.big", { history: false });
    await subscription.ready;
    await big.ready;
    console.log("ready");
    setInterval(() => {}, 60_000);
  `);
}, 30_000);

afterAll(async () => {
  stalled?.kill("SIGKILL");
  await listener?.close();
  await hub?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("pub/sub under a flood", () => {
  it(
    "keeps the hub's heap bounded while a remote drop-oldest subscriber has stopped reading",
    { timeout: 120_000 },
    async () => {
      expect(hub.pubsub.channels().find((info) => info.name === "flood")?.subscribers).toBe(1);
      const before = heapAfterGc();
      let peak = 0;
      for (let i = 0; i < MESSAGES; i++) {
        // A fresh payload each time: nothing shared keeps the flood cheap by accident.
        const data = new Uint8Array(SIZE).fill(i & 0xff);
        await hub.publish("flood", data);
        if (i % 5000 === 4999) {
          // Let the session write what it may, then look.
          await new Promise((resolve) => setImmediate(resolve));
          peak = Math.max(peak, heapAfterGc() - before);
        }
      }
      peak = Math.max(peak, heapAfterGc() - before);
      expect(peak).toBeLessThan(BOUND);
      // The subscriber is still there: dropped for, not dropped.
      const info = hub.pubsub.channels().find((channel) => channel.name === "flood");
      expect(info).toMatchObject({ subscribers: 1, seq: MESSAGES });
      expect(info!.history.bytes).toBeLessThanOrEqual(1024 * 1024);
    },
  );

  it("bounds a stalled subscriber's ring by bytes, not only by messages", { timeout: 120_000 }, async () => {
    const before = heapAfterGc();
    let peak = 0;
    for (let i = 0; i < 2000; i++) {
      await hub.publish("flood.big", new Uint8Array(64 * 1024).fill(i & 0xff));
      if (i % 250 === 249) {
        await new Promise((resolve) => setImmediate(resolve));
        peak = Math.max(peak, heapAfterGc() - before);
      }
    }
    // Ring 8 MiB + history 1 MiB + the session's event window (128 × 64 KiB) and socket buffers;
    // without the byte cap the ring alone would hold 64 MiB.
    expect(peak).toBeLessThan(40 * MB);
    expect(hub.pubsub.channels().find((channel) => channel.name === "flood.big")).toMatchObject({
      subscribers: 1,
    });
  });
});
