/**
 * Samply tasks across a cluster against one hub, in the same run: one full round trip per
 * operation — the sender posts, the worker's long poll (to-do list) wakes, the worker answers,
 * the sender's long poll for the result wakes — through the TaskBroker API (no HTTP, so the
 * figure is the store's cost). One hub: everything in one in-memory broker. Cluster: a 3-node
 * NATS cluster with JetStream; the sender's broker on hub A, the worker's on hub C (its own NATS
 * node each), tasks in the cluster's task bucket (R3).
 * Rounds interleave the two; per round, the median trip of each and their ratio; then the medians
 * of those. CPU time of this process per trip too (both hubs live in it). Load average printed.
 *
 *   npx tsx bench/cluster-tasks.ts        (BENCH_ROUNDS, default 7; BENCH_TRIPS per round, default 40)
 */
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { joinCluster, type Cluster } from "../cluster/index.js";
import { clusterTasks } from "../cluster-tasks/share-tasks.js";
import { Hub, TaskBroker } from "../index.js";
import { startNatsCluster } from "../test/helpers/nats-cluster.js";
import { median } from "./harness.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const TRIPS = Number(process.env.BENCH_TRIPS ?? 40);
const APP1 = "app1.proxy1.broker";
const APP2 = "app2.proxy1.broker";
const KEYS = { app1: "k1", app2: "k2" };

/** One trip: post at `sender`, wait at `worker` for it, answer there, wait at `sender` for the answer. */
async function trip(sender: TaskBroker, worker: TaskBroker): Promise<void> {
  const id = randomUUID();
  const todo = worker.tasks(APP2, { todo: true }, { count: 1, timeMs: 10_000 });
  await sender.post(APP1, {
    id,
    from: APP1,
    to: [APP2],
    body: "q",
    ttl: "60s",
    failure_strategy: "discard",
    metadata: null,
  });
  const seen = await todo;
  if (!seen.items.some((task) => task.id === id)) throw new Error("the worker did not see the task");
  const answered = sender.results(APP1, id, { count: 1, timeMs: 10_000 });
  await worker.putResult(APP2, id, APP2, {
    from: APP2,
    to: [APP1],
    task: id,
    status: "succeeded",
    body: "a",
    metadata: null,
  });
  if ((await answered).items.length !== 1) throw new Error("the sender did not see the result");
}

/** `TRIPS` trips, one after the other: median ms per trip, and CPU µs per trip. */
async function run(sender: TaskBroker, worker: TaskBroker): Promise<{ ms: number; cpuUs: number }> {
  const times: number[] = [];
  const cpu = process.cpuUsage();
  for (let index = 0; index < TRIPS; index++) {
    const started = performance.now();
    await trip(sender, worker);
    times.push(performance.now() - started);
  }
  const used = process.cpuUsage(cpu);
  return { ms: median(times), cpuUs: (used.user + used.system) / TRIPS };
}

const nats = await startNatsCluster({ nodes: 3 });
const clusters: Cluster[] = [];
const brokers: TaskBroker[] = [];
try {
  const local = await TaskBroker.open({
    id: "proxy1.broker",
    apiKeys: KEYS,
    limits: { maxTasksPerApp: 1_000_000, maxTasks: 1_000_000 },
  });
  brokers.push(local);
  const shared: TaskBroker[] = [];
  for (const [index, name] of ["a", "c"].entries()) {
    const broker = await TaskBroker.open({
      id: "proxy1.broker",
      apiKeys: KEYS,
      limits: { maxTasksPerApp: 1_000_000, maxTasks: 1_000_000 },
    });
    brokers.push(broker);
    shared.push(broker);
    clusters.push(
      await joinCluster(new Hub(), {
        servers: nats.urls[index * 2]!,
        name: "bench-tasks",
        hub: `hub-${name}`,
        extensions: [clusterTasks(broker)],
      }),
    );
  }
  // Warm up both.
  await run(local, local);
  await run(shared[0]!, shared[1]!);
  const one: number[] = [];
  const across: number[] = [];
  const ratios: number[] = [];
  const cpuOne: number[] = [];
  const cpuAcross: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const a = await run(local, local);
    const b = await run(shared[0]!, shared[1]!);
    one.push(a.ms);
    across.push(b.ms);
    ratios.push(b.ms / a.ms);
    cpuOne.push(a.cpuUs);
    cpuAcross.push(b.cpuUs);
  }
  const load = loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
  console.log(
    `tasks round trip (post → to-do wakes → result → result poll wakes), ${ROUNDS} rounds × ${TRIPS} trips; load ${load}`,
  );
  console.log(
    `  one hub:            median ${median(one).toFixed(2)} ms/trip, CPU ${median(cpuOne).toFixed(0)} µs/trip`,
  );
  console.log(
    `  across two hubs:    median ${median(across).toFixed(2)} ms/trip, CPU ${median(cpuAcross).toFixed(0)} µs/trip (both hubs in this process)`,
  );
  console.log(`  ratio across / one: median of per-round ratios ${median(ratios).toFixed(1)}×`);
} finally {
  for (const cluster of clusters) await cluster.leave().catch(() => undefined);
  for (const broker of brokers) await broker.close();
  await nats.stop();
}
