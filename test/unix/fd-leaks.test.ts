// No descriptor leaks through a hub: thousands of descriptors travel client -> hub -> service
// process; open descriptors are counted in /proc/self/fd on both sides before and after.
import { openSync, readdirSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { FileDescriptor, Hub, connectUnix, listenUnix } from "../../index.js";
import { spawnPeer, PEER_LIBRARY } from "../helpers/peer.js";

const openFds = (): number => readdirSync("/proc/self/fd").length;

describe("descriptors through a hub", () => {
  it("leaks none after 3,000 descriptors, taken, ignored or refused", { timeout: 60_000 }, async () => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-fdleak-"));
    const path = join(dir, "hub.sock");
    const file = join(dir, "data.txt");
    await writeFile(file, "x");
    const hub = new Hub();
    const listener = await listenUnix(hub, path);
    const peer = await spawnPeer(`import { readdirSync, closeSync } from "node:fs";
         import { connectUnix } from ${PEER_LIBRARY};
         const hub = await connectUnix(${JSON.stringify(path)});
         await hub.register("fd.take", ({ file }) => { closeSync(file.take()); return 1; });
         await hub.register("fd.ignore", () => 1); // never takes it: closed with the message
         await hub.register("fd.count", () => readdirSync("/proc/self/fd").length);
         console.log("ready");`);
    try {
      const client = await connectUnix(path);
      const peerBefore = await client.call<number>("fd.count");
      const before = openFds();
      const send = (service: string) =>
        client.call(service, { file: new FileDescriptor(openSync(file, "r")) });
      for (let round = 0; round < 10; round++) {
        await Promise.all(Array.from({ length: 100 }, () => send("fd.take")));
        await Promise.all(Array.from({ length: 100 }, () => send("fd.ignore")));
        // Refused: nobody serves the name; the descriptor already reached the hub.
        await Promise.all(Array.from({ length: 100 }, () => send("fd.nobody").catch(() => 0)));
      }
      // Descriptors nobody took are closed when their message's owners let go: let that settle.
      await expect.poll(() => openFds(), { timeout: 5000 }).toBe(before);
      await expect.poll(() => client.call<number>("fd.count"), { timeout: 5000 }).toBe(peerBefore);
      await client.close();
    } finally {
      peer.kill();
      await listener.close();
      await hub.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
