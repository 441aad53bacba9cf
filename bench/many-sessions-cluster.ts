/**
 * Many active sessions on a cluster (issues 17 and 19): a 3-node NATS cluster, 3 hub processes
 * (hub i joins through node i), and 3 client processes, client i holding its share of the
 * sessions on hub i and calling `echo.<i+1 mod 3>`, a service of the next hub: every call crosses
 * two hubs and NATS. 100 and 1,000 sessions in all, back to back in each round, the order
 * alternating. Per count: calls/s, the hubs' CPU time per call (all three hubs' together), their
 * GC, the calls' p50/p99, the worst hub's event-loop delay, memory per idle session at the hubs,
 * and the NATS message rate (the nodes' /varz `in_msgs` summed: a message routed between nodes
 * counts at each node it enters).
 *
 *   npx tsx bench/many-sessions-cluster.ts
 *
 * BENCH_SESSIONS=100,1000  BENCH_ROUNDS=3  BENCH_SECONDS=3; BENCH_SYSCALLS=1 as in
 * bench/many-sessions.ts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { startNatsCluster } from "../test/helpers/nats-cluster.js";
import { ask, buildParts, forkPart, runRounds } from "./many-sessions/rounds.js";

const COUNTS = (process.env.BENCH_SESSIONS ?? "100,1000").split(",").map(Number);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const HUBS = 3;

/** Messages that entered all nodes so far (their monitoring /varz). */
async function natsMessagesIn(monitorUrls: string[]): Promise<number> {
  const counts = await Promise.all(
    monitorUrls.map(async (url) => {
      const response = await fetch(`${url}/varz`, { signal: AbortSignal.timeout(10_000) });
      return ((await response.json()) as { in_msgs: number }).in_msgs;
    }),
  );
  return counts.reduce((sum, count) => sum + count, 0);
}

const dir = mkdtempSync(join(tmpdir(), "beamhub-many-sessions-cluster-"));
await buildParts();
const nats = await startNatsCluster({ nodes: HUBS });
const hubs = Array.from({ length: HUBS }, () => forkPart("hub"));
const clients = Array.from({ length: HUBS }, () => forkPart("clients"));
try {
  console.log(
    `many sessions on a cluster: 3 NATS nodes, 3 hub processes, 3 client processes (client i on hub i calls ` +
      `a service of hub i+1), 1 call in flight per session, ${SECONDS} s windows, ${ROUNDS} rounds; ` +
      `node ${process.version}, ${cpus().length}× ${cpus()[0]?.model}, load ${loadavg()
        .map((value) => value.toFixed(1))
        .join(" ")}, ${new Date().toISOString()}`,
  );
  const paths = hubs.map((_, index) => join(dir, `hub-${index}.sock`));
  const pids = await Promise.all(
    hubs.map(async (hub, index) => {
      const { pid } = await ask<{ pid: number }>(hub, {
        op: "listen",
        path: paths[index],
        index,
        cluster: { url: nats.urls[index], name: "many" },
      });
      return pid;
    }),
  );
  const services = hubs.map((_, index) => `echo.${(index + 1) % HUBS}`);
  await Promise.all(
    hubs.map((hub, index) => ask(hub, { op: "waitFor", service: services[index], timeoutMs: 60_000 })),
  );
  const monitors = nats.servers.map((server) => server.monitorUrl);
  await runRounds({
    hubs,
    clients: clients.map((child, index) => ({ child, path: paths[index]!, service: services[index]! })),
    counts: COUNTS,
    rounds: ROUNDS,
    seconds: SECONDS,
    counters: async () => ({ "NATS msgs in": await natsMessagesIn(monitors) }),
    ...(process.env.BENCH_SYSCALLS === "1" ? { syscallPids: pids } : {}),
  });
} finally {
  await Promise.allSettled([...clients, ...hubs].map((child) => child.stop()));
  await nats.stop();
  rmSync(dir, { recursive: true, force: true });
}
