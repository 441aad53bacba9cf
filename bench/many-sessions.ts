/**
 * Many active sessions (issue 19): a hub process on a Unix socket and BENCH_CLIENTS client
 * processes (4 by default) holding 100, then 1,000 sessions between them, every session calling a
 * synchronous service with one call in flight. The counts run back to back in each round, the
 * order alternating. Per count: calls/s, the hub's CPU time (user + system) per call, the calls'
 * p50/p99 seen by the clients, the hub's event-loop delay, and an idle session's memory at the hub;
 * then the median per-round ratio of hub CPU per call to the first count's (the goal: ≤ 1.2×).
 *
 *   npx tsx bench/many-sessions.ts
 *
 * BENCH_SESSIONS=100,1000  BENCH_ROUNDS=3  BENCH_SECONDS=3  BENCH_CLIENTS=4
 * BENCH_HUB_FLAGS="--max-semi-space-size=32": node flags for the hub process.
 * BENCH_SYSCALLS=1: system calls per call at the hub (perf stat over each window).
 * BENCH_PIN=1: the hub on core 0, the clients on core 1 (taskset), so the scheduler does not
 *   move the hub between rounds. CPU_PROF=<dir>: CPU profiles of every process (use one count).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { ask, buildParts, forkPart, runRounds } from "./many-sessions/rounds.js";
import { pinTo } from "./unix-peers.js";

const COUNTS = (process.env.BENCH_SESSIONS ?? "100,1000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const PIN = process.env.BENCH_PIN === "1";

const dir = mkdtempSync(join(tmpdir(), "beamhub-many-sessions-"));
const path = join(dir, "hub.sock");
await buildParts();
const hub = forkPart("hub");
const clients = Array.from({ length: CLIENTS }, () => forkPart("clients"));
try {
  console.log(
    `many sessions over Unix: 1 hub process, ${CLIENTS} client processes, 1 call in flight per session, ` +
      `${SECONDS} s windows, ${ROUNDS} rounds${PIN ? ", pinned" : ""}; node ${process.version}, ` +
      `${cpus().length}× ${cpus()[0]?.model}, load ${loadavg()
        .map((value) => value.toFixed(1))
        .join(" ")}, ${new Date().toISOString()}`,
  );
  const { pid } = await ask<{ pid: number }>(hub, { op: "listen", path, index: 0 });
  if (PIN) {
    pinTo(hub.process.pid!, 0);
    for (const client of clients) pinTo(client.process.pid!, 1);
  }
  await runRounds({
    hubs: [hub],
    clients: clients.map((child) => ({ child, path, service: "echo.0" })),
    counts: COUNTS,
    rounds: ROUNDS,
    seconds: SECONDS,
    ...(process.env.BENCH_SYSCALLS === "1" ? { syscallPids: [pid] } : {}),
  });
} finally {
  await Promise.allSettled([hub, ...clients].map((child) => child.stop()));
  rmSync(dir, { recursive: true, force: true });
}
