// Descriptors that arrive in replies and events and are never taken: they belong to the channel
// they came on and close with it, or with the session. A service once ran its callers out of
// descriptors: 200 replies x 10 fds stayed open after the session closed.
import { readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Channel, Hub, connectUnix, listenUnix, type UnixListener } from "../../index.js";
import { spawnPeer, PEER_LIBRARY } from "../helpers/peer.js";
import type { ChildProcessWithoutNullStreams } from "node:child_process";

const openFds = (): number => readdirSync("/proc/self/fd").length;

let dir: string;
let hub: Hub;
let listener: UnixListener;
let service: ChildProcessWithoutNullStreams;
let path: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-fdlife-"));
  path = join(dir, "hub.sock");
  hub = new Hub();
  listener = await listenUnix(hub, path);
  service = await spawnPeer(`import { openSync, readdirSync } from "node:fs";
     import { connectUnix, FileDescriptor } from ${PEER_LIBRARY};
     const hub = await connectUnix(${JSON.stringify(path)});
     const tenFds = () => Array.from({ length: 10 }, () => new FileDescriptor(openSync("/dev/null", "r")));
     await hub.register("fd.many", () => ({ fds: tenFds() }));
     await hub.register("fd.late", () => new Promise((resolve) => setTimeout(() => resolve({ fds: tenFds() }), 150)));
     await hub.register("fd.events", async ({ events, count }) => {
       for (let i = 0; i < count; i++) await events.send({ fds: tenFds() });
       return count;
     });
     await hub.register("fd.count", () => readdirSync("/proc/self/fd").length);
     console.log("ready");`);
});

afterAll(async () => {
  service?.kill();
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("descriptors received and never taken", () => {
  it("in replies: close with the session that received them", { timeout: 30_000 }, async () => {
    const before = openFds();
    const client = await connectUnix(path);
    const serviceBefore = await client.call<number>("fd.count");
    for (let round = 0; round < 4; round++) {
      await Promise.all(Array.from({ length: 50 }, () => client.call("fd.many")));
    }
    // 2,000 descriptors arrived here and nobody took them: they are the session's until it ends.
    expect(openFds()).toBeGreaterThanOrEqual(before + 2000);
    expect(await client.call<number>("fd.count")).toBe(serviceBefore);
    await client.close();
    await expect.poll(() => openFds(), { timeout: 5000 }).toBe(before);
  });

  it("in events: close with the channel that carried them", { timeout: 30_000 }, async () => {
    const client = await connectUnix(path);
    const before = openFds();
    const [events, theirs] = Channel.pair();
    expect(await client.call("fd.events", { events: theirs, count: 50 })).toBe(50);
    expect(openFds()).toBeGreaterThanOrEqual(before + 500);
    events.close();
    await expect.poll(() => openFds(), { timeout: 5000 }).toBe(before);
    await client.close();
  });

  it("in a reply that comes after the call timed out: closed on arrival", { timeout: 30_000 }, async () => {
    const client = await connectUnix(path);
    const before = openFds();
    const calls = Array.from({ length: 20 }, () => client.call("fd.late", null, { timeout: 20 }));
    // Every rejection is taken at once: awaited one by one, the others rejected unhandled meanwhile.
    const outcomes = await Promise.allSettled(calls);
    for (const outcome of outcomes)
      expect(outcome).toMatchObject({ status: "rejected", reason: { code: "ETIMEOUT" } });
    // The late replies (200 descriptors) reach the hub and stop there; none reaches us.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await expect.poll(() => openFds(), { timeout: 5000 }).toBe(before);
    await client.close();
  });
});
