// Long-running commands say which process to signal (`beamhub <command>: pid N`, on stderr):
// under npm or a supervisor the PID a user sees is a wrapper's. Real processes, a real hub.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix } from "../../index.js";
import { beamhub, startCli, startEchoServer, startServe, type RunningCli } from "./helpers.js";
import type { Server } from "node:net";

let dir: string;
let socket: string;
let server: RunningCli & { httpsUrl: string };
let echo: { server: Server; port: number };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-pid-"));
  socket = join(dir, "hub.sock");
  server = await startServe(socket, join(dir, "cert"));
  echo = await startEchoServer();
}, 30_000);

afterAll(async () => {
  await server?.stop();
  echo?.server.close();
  await rm(dir, { recursive: true, force: true });
});

/** The pid a `beamhub <command>: pid N` line names, from `text`. */
function pidIn(command: string, text: string): number | undefined {
  const found = text.match(new RegExp(`^beamhub ${command}: pid (\\d+)$`, "m"));
  return found === null ? undefined : Number(found[1]);
}

describe("long-running commands print their PID once, on stderr", () => {
  it("serve", () => {
    expect(pidIn("serve", server.stderr())).toBe(server.child.pid);
    expect(server.stderr().match(/: pid \d+$/gm)).toHaveLength(1);
  });

  it("watch --json: the PID on stderr, stdout stays one JSON value per line", async () => {
    const watch = await startCli(["watch", "--json", "--socket", socket], /^beamhub watch: pid \d+$/m);
    const client = await connectUnix(socket);
    try {
      expect(pidIn("watch", watch.stderr())).toBe(watch.child.pid);
      await client.register("pid.watched", () => "ok");
      const deadline = Date.now() + 10_000;
      while (!watch.stdout().includes("pid.watched") && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const lines = watch.stdout().trim().split("\n");
      const events = lines.map((line) => JSON.parse(line) as { type: string; service: { name: string } });
      expect(events).toContainEqual(
        expect.objectContaining({ type: "added", service: expect.objectContaining({ name: "pid.watched" }) }),
      );
    } finally {
      await client.close();
      await watch.stop();
    }
  });

  it("expose and connect", async () => {
    const [exposing, connecting] = await Promise.all([
      startCli(
        ["expose", "pid.db", `tcp://127.0.0.1:${echo.port}`, "--socket", socket],
        /^beamhub expose: pid \d+$/m,
      ),
      startCli(
        ["connect", "pid.db", "--listen", "127.0.0.1:0", "--socket", socket],
        /^beamhub connect: pid \d+$/m,
      ),
    ]);
    try {
      expect(pidIn("expose", exposing.stderr())).toBe(exposing.child.pid);
      expect(pidIn("connect", connecting.stderr())).toBe(connecting.child.pid);
    } finally {
      await Promise.all([exposing.stop(), connecting.stop()]);
    }
  });

  it("run: its own PID, the parent of the command it runs", async () => {
    const result = await beamhub([
      "run",
      "--socket",
      socket,
      "--mode",
      "relay",
      "--connect",
      "pid.db=127.0.0.1:0",
      "--",
      process.execPath,
      "-e",
      "console.log(process.ppid)",
    ]);
    expect(result.code, result.stderr).toBe(0);
    expect(pidIn("run", result.stderr)).toBe(Number(result.stdout.trim()));
  });
});
