// Many active sessions (issue 19): a hub process on a Unix socket, and this process opening
// 100, then 1,000 sessions to it, each calling a synchronous service with one call in flight
// for BENCH_SECONDS. Prints calls/s and the hub's CPU time per call (user + system, read in
// the hub process around the measured window), the figure that should stay flat as sessions
// grow. BENCH_PROF=1 writes a CPU profile of the hub (in bench/profiles/).
//
//   npx tsx bench/many-sessions.ts            (BENCH_SECONDS=3, BENCH_SESSIONS=100,1000)
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const COUNTS = (process.env.BENCH_SESSIONS ?? "100,1000").split(",").map(Number);

if (process.argv[2] === "hub") await serveHub(process.argv[3]!);
else await main();

/** The hub: an "echo" service; answers "cpu" on stdin with its CPU µs and calls served. */
async function serveHub(path: string): Promise<void> {
  const { Hub, listenUnix } = await import("../index.js");
  const hub = new Hub();
  let calls = 0;
  await hub.register("echo", (data: unknown) => {
    calls += 1;
    return data;
  });
  const listener = await listenUnix(hub, path, { maxConnections: 4096, maxConnectionsPerUid: 4096 });
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "cpu") {
      const { user, system } = process.cpuUsage();
      process.stdout.write(`${user + system} ${calls}\n`);
    }
    if (line === "mem") {
      for (let i = 0; i < 3; i++) (globalThis as { gc?: () => void }).gc?.();
      const { rss, heapUsed, arrayBuffers } = process.memoryUsage();
      process.stdout.write(`${rss} ${heapUsed + arrayBuffers}\n`);
    }
    if (line === "quit") break;
  }
  await listener.close();
  await hub.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const { connectUnix } = await import("../index.js");
  const dir = mkdtempSync(join(tmpdir(), "beamhub-many-sessions-"));
  const path = join(dir, "hub.sock");
  const profile = process.env.BENCH_PROF === "1" ? ["--cpu-prof", "--cpu-prof-dir", "bench/profiles"] : [];
  const child = spawn(
    process.execPath,
    [...profile, "--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "hub", path],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (line: string): Promise<string> => {
    if (line !== "") child.stdin!.write(`${line}\n`);
    const reply = await replies.next();
    if (reply.done === true) throw new Error("the hub process ended");
    return reply.value;
  };
  const payload = { user: "ada", action: "lookup", id: 42 };
  try {
    await ask("");
    console.log(`\nmany sessions calling a hub over Unix, 1 call in flight each, ${SECONDS} s`);
    for (const count of COUNTS) {
      const [rss0, heap0] = (await ask("mem")).split(" ").map(Number);
      const sessions = [];
      for (let i = 0; i < count; i++) sessions.push(await connectUnix(path, { reconnect: false }));
      const [rss1, heap1] = (await ask("mem")).split(" ").map(Number);
      const kib = (bytes: number): string => `${(bytes / count / 1024).toFixed(1)} KiB`;
      console.log(
        `  ${String(count).padStart(5)} idle sessions at the hub: RSS ${kib(rss1! - rss0!)}, heap + ArrayBuffers ${kib(heap1! - heap0!)} per session`,
      );
      let running = true;
      const lanes = sessions.map(async (session) => {
        while (running) await session.call("echo", payload);
      });
      await new Promise((resolve) => setTimeout(resolve, 500)); // warm-up
      const [cpu0, calls0] = (await ask("cpu")).split(" ").map(Number);
      const started = performance.now();
      await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
      const [cpu1, calls1] = (await ask("cpu")).split(" ").map(Number);
      const seconds = (performance.now() - started) / 1000;
      running = false;
      await Promise.all(lanes);
      const calls = calls1! - calls0!;
      console.log(
        `  ${String(count).padStart(5)} sessions: ${Math.round(calls / seconds).toLocaleString("en-US")} calls/s, ` +
          `hub CPU ${((cpu1! - cpu0!) / calls).toFixed(1)} µs per call`,
      );
      for (const session of sessions) await session.close();
    }
    await ask("quit").catch(() => undefined);
  } finally {
    child.kill("SIGINT");
    rmSync(dir, { recursive: true, force: true });
  }
}
