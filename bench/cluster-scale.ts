/**
 * Cluster scale: 3 hubs, each a process of its own on its own node of a 3-node NATS cluster,
 * grow to 100, 1,000 and 10,000 services in all (a third each). At each step: how long until
 * every hub sees every service (registry convergence), and the rate of calls from hub 0 to `echo`
 * on hub 2 at 100 in flight against raw nats.js request/reply between the same two processes (a
 * flat ratio means a flat per-call cost as services grow). At the end: memory per service, the
 * heapUsed growth of each hub (own services and stand-ins) over the services it holds.
 *
 *   npx tsx bench/cluster-scale.ts                (ROUNDS=3 call rounds per step by default)
 */
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { startNatsCluster } from "../test/helpers/nats-cluster.js";
import { forkChild, type Child } from "./cluster/child.js";
import { median, roundRatio } from "./harness.js";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const STEPS = (process.env.STEPS ?? "100,1000,10000").split(",").map(Number);

/** Sends `request` to `child` and returns its answer, throwing what it reports as an error. */
async function ask<Answer>(child: Child, request: unknown, timeoutMs = 300_000): Promise<Answer> {
  const reply = await child.request<{ answer?: Answer; error?: string }>(request, timeoutMs);
  if (reply.error !== undefined) throw new Error(reply.error);
  return reply.answer as Answer;
}

/**
 * A round of calls from hub 0; tried again (at most twice, 2 s apart) when a connection of the
 * loaded hubs was lost a moment (nats.js reconnects, and its responder is back after that).
 */
async function callsFromHub0(): Promise<{ beamhub: number; raw: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await ask<{ beamhub: number; raw: number }>(hubs[0]!, {
        op: "calls",
        inFlight: 100,
        count: 10_000,
      });
    } catch (error) {
      if (attempt === 3) throw error;
      console.log(`  (a round of calls failed: ${(error as Error).message}; again in 2 s)`);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

const nats = await startNatsCluster({ nodes: 3 });
const hubs = [0, 1, 2].map(() =>
  forkChild(join(import.meta.dirname, "cluster/scale-hub.ts"), ["--expose-gc"]),
);
const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
try {
  console.log(
    `cluster scale bench, node ${process.version}, ${cpus().length}× ${cpus()[0]?.model}, ` +
      `load ${loadavg()
        .map((load) => load.toFixed(1))
        .join(" ")}, ${new Date().toISOString()}`,
  );
  // Hub 2 first: it hosts `echo`, the one service every step counts besides the `svc.*` ones.
  const joined = [await ask<{ heapUsed: number }>(hubs[2]!, { op: "join", url: nats.urls[2], index: 2 })];
  joined.unshift(
    ...(await Promise.all(
      [0, 1].map((index) =>
        ask<{ heapUsed: number }>(hubs[index]!, { op: "join", url: nats.urls[index], index }),
      ),
    )),
  );
  let beforeAll = 0;
  for (const total of STEPS) {
    // Hub 2's `echo` counts: the others host a third of the rest each, hub 2 what is left.
    const third = Math.floor((total - 1) / 3);
    const counts = [third, third, total - 2 * third];
    const started = performance.now();
    const converged = await Promise.all(
      hubs.map((hub, index) =>
        ask<{ registeredMs: number; convergedMs: number }>(hub, {
          op: "register",
          count: counts[index],
          total,
          timeoutMs: 240_000,
        }),
      ),
    );
    const wall = performance.now() - started;
    console.log(
      `${total.toLocaleString("en-US")} services (${counts.join(" + ")}, ${(total - beforeAll).toLocaleString("en-US")} new): ` +
        `every hub saw all after ${(wall / 1000).toFixed(2)} s ` +
        `(registered in ${converged.map((step) => (step.registeredMs / 1000).toFixed(2)).join(" / ")} s; ` +
        `converged ${converged.map((step) => (step.convergedMs / 1000).toFixed(2)).join(" / ")} s per hub)`,
    );
    const calls = { beamhub: [] as number[], raw: [] as number[] };
    for (let round = 0; round <= ROUNDS; round++) {
      const rates = await callsFromHub0();
      if (round === 0) continue; // warm-up
      calls.beamhub.push(rates.beamhub);
      calls.raw.push(rates.raw);
    }
    console.log(
      `  calls hub 0 → hub 2, 100 in flight: beamhub ${Math.round(median(calls.beamhub)).toLocaleString("en-US")}/s, ` +
        `raw nats.js ${Math.round(median(calls.raw)).toLocaleString("en-US")}/s, ratio ${roundRatio(calls.beamhub, calls.raw).toFixed(2)}×`,
    );
    beforeAll = total;
  }
  const after = await Promise.all(
    hubs.map((hub) => ask<{ heapUsed: number; rss: number }>(hub, { op: "memory" })),
  );
  const total = STEPS.at(-1)!;
  console.log(
    `memory per service (heapUsed growth since joining ÷ ${total.toLocaleString("en-US")} instances held, own + stand-ins): ` +
      after
        .map(
          (memory, index) =>
            `hub ${index} ${((memory.heapUsed - joined[index]!.heapUsed) / total).toFixed(0)} B (heap ${mib(memory.heapUsed)} MiB, rss ${mib(memory.rss)} MiB)`,
        )
        .join("; "),
  );
} finally {
  await Promise.allSettled(hubs.map((hub) => hub.stop()));
  await nats.stop();
}
