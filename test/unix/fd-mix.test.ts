// Ten thousand descriptors through a real `beamhub serve` over Unix, in every mix: taken and
// untaken in requests, refused (no such service), in replies nobody takes, in events, in replies
// that come after their call timed out, and in calls to a service process killed while they are
// in flight. Afterwards the open fds of the hub, the service and the caller are back where they
// started.
import type { ChildProcessWithoutNullStreams } from "node:child_process";
import { openSync, readdirSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Channel, FileDescriptor, connectUnix } from "../../index.js";
import { startServe, type RunningCli } from "../cli/helpers.js";
import { spawnPeer, PEER_LIBRARY } from "../helpers/peer.js";

const fdsOf = (pid: number | "self"): number => readdirSync(`/proc/${pid}/fd`).length;

let dir: string;
let server: RunningCli & { httpsUrl: string };
let socket: string;

/** A service process: takes, ignores, returns and sends descriptors. */
function startService(prefix: string): Promise<ChildProcessWithoutNullStreams> {
  return spawnPeer(`import { closeSync, openSync } from "node:fs";
     import { connectUnix, FileDescriptor } from ${PEER_LIBRARY};
     const hub = await connectUnix(${JSON.stringify(socket)}, { reconnect: false });
     const fds = (n) => Array.from({ length: n }, () => new FileDescriptor(openSync("/dev/null", "r")));
     await hub.register("${prefix}.take", ({ fd }) => { closeSync(fd.take()); return 1; });
     await hub.register("${prefix}.ignore", () => 1);
     await hub.register("${prefix}.reply", () => ({ fds: fds(10) }));
     await hub.register("${prefix}.late", () => new Promise((resolve) => setTimeout(() => resolve({ fds: fds(5) }), 100)));
     await hub.register("${prefix}.events", async ({ events }) => {
       for (let i = 0; i < 10; i++) await events.send({ fd: fds(1)[0] });
       events.close();
       return 10;
     });
     await hub.register("${prefix}.hang", () => new Promise(() => undefined));
     console.log("ready");`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-fdmix-"));
  socket = join(dir, "hub.sock");
  server = await startServe(socket, join(dir, "cert"));
}, 30_000);

afterAll(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("10,000 descriptors in every mix", () => {
  it(
    "leave the hub, the service and the caller with the fds they started with",
    { timeout: 120_000 },
    async () => {
      const service = await startService("mix");
      const hubPid = server.child.pid!;
      const client = await connectUnix(socket, { reconnect: false });
      // Warm-up: pools, JIT, the first connections; then the counts to come back to.
      await client.call("mix.ignore", { fd: new FileDescriptor(openSync("/dev/null", "r")) });
      const start = { hub: fdsOf(hubPid), service: fdsOf(service.pid!), caller: fdsOf("self") };
      const file = (): FileDescriptor => new FileDescriptor(openSync("/dev/null", "r"));
      let transfers = 0;
      for (let round = 0; round < 12; round++) {
        const batch: Promise<unknown>[] = [];
        for (let i = 0; i < 100; i++) {
          batch.push(client.call("mix.take", { fd: file() }));
          batch.push(client.call("mix.ignore", { fd: file() }));
          batch.push(client.call("mix.nobody", { fd: file() }).catch(() => 0));
        }
        for (let i = 0; i < 40; i++) batch.push(client.call("mix.reply")); // 10 fds each
        for (let i = 0; i < 10; i++) {
          batch.push(client.call("mix.late", null, { timeout: 20 }).catch(() => 0)); // 5 fds, too late
        }
        for (let i = 0; i < 10; i++) {
          const [events, theirs] = Channel.pair();
          batch.push(
            client.call("mix.events", { events: theirs }).then(async () => {
              for await (const event of events) void event; // 10 events, 1 fd each, never taken
            }),
          );
        }
        await Promise.all(batch);
        transfers += 300 + 400 + 50 + 100;
      }
      // A service killed while calls carrying descriptors wait in it.
      const victim = await startService("victim");
      const doomed = Array.from({ length: 100 }, () =>
        client.call("victim.hang", { fd: file() }).catch((error: { code?: string }) => error.code),
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      victim.kill("SIGKILL");
      expect(new Set(await Promise.all(doomed))).toEqual(new Set(["ESERVICE_GONE"]));
      transfers += 100;
      expect(transfers).toBeGreaterThanOrEqual(10_000);
      // The late replies land; then every untaken descriptor closes with its session.
      await new Promise((resolve) => setTimeout(resolve, 500));
      await client.close();
      await expect.poll(() => fdsOf("self"), { timeout: 10_000 }).toBeLessThanOrEqual(start.caller);
      await expect.poll(() => fdsOf(hubPid), { timeout: 10_000 }).toBeLessThanOrEqual(start.hub);
      await expect.poll(() => fdsOf(service.pid!), { timeout: 10_000 }).toBeLessThanOrEqual(start.service);
      service.kill();
    },
  );
});
