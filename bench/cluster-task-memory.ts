/**
 * Memory per live task in a hub's copy of the cluster's task bucket (cluster-tasks/): every hub
 * of a cluster that shares tasks mirrors all of them, so this is what each hub pays per task held
 * anywhere in the cluster. One NATS server with JetStream (the copy does not depend on replicas);
 * hub A posts N tasks (then N results), hub B mirrors them; A leaves before each measurement, so
 * the heap growth of this process, after a full GC, is B's copy. Run with --expose-gc:
 *
 *   node --expose-gc --import tsx bench/cluster-task-memory.ts   (BENCH_TASKS, default 10000)
 */
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { joinCluster } from "../cluster/index.js";
import { clusterTasks } from "../cluster-tasks/share-tasks.js";
import { Hub, TaskBroker } from "../index.js";
import { startNatsServer } from "../test/helpers/nats-cluster.js";

const TASKS = Number(process.env.BENCH_TASKS ?? 10_000);
const APP1 = "app1.proxy1.broker";
const APP2 = "app2.proxy1.broker";
const KEYS = { app1: "k1", app2: "k2" };
/** A body of 64 characters: the figure is the copy's overhead plus about that. */
const BODY = "x".repeat(64);

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with node --expose-gc (see the header)");

/** heapUsed after full collections, settled. */
async function heap(): Promise<number> {
  for (let round = 0; round < 4; round++) {
    gc!();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().heapUsed;
}

async function until(check: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what} not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function aHub(url: string, name: string) {
  const hub = new Hub();
  const broker = await TaskBroker.open({
    id: "proxy1.broker",
    apiKeys: KEYS,
    limits: { maxTasks: TASKS * 2, maxTasksPerApp: TASKS * 2 },
  });
  const cluster = await joinCluster(hub, {
    servers: url,
    name: "taskmem",
    hub: name,
    extensions: [clusterTasks(broker)],
  });
  return {
    broker,
    close: async () => {
      await cluster.leave();
      await broker.close();
      await hub.close();
    },
  };
}

const nats = await startNatsServer({ extraConfig: "max_payload: 1048576" });
try {
  const b = await aHub(nats.url, "hub-b");
  let a = await aHub(nats.url, "hub-a");
  // Opening a second hub once warms up what every later one shares (code, caches): left out.
  await a.close();
  const before = await heap();
  a = await aHub(nats.url, "hub-a");
  const ids: string[] = [];
  for (let start = 0; start < TASKS; start += 200)
    await Promise.all(
      Array.from({ length: Math.min(200, TASKS - start) }, async () => {
        const id = randomUUID();
        ids.push(id);
        await a.broker.post(APP1, {
          id,
          from: APP1,
          to: [APP2],
          body: BODY,
          ttl: "1h",
          failure_strategy: "discard",
          metadata: null,
        });
      }),
    );
  await until(() => b.broker.taskCount === TASKS, 120_000, `hub B holding ${TASKS} tasks`);
  await a.close();
  const withTasks = await heap();
  a = await aHub(nats.url, "hub-a");
  for (let start = 0; start < TASKS; start += 200)
    await Promise.all(
      ids.slice(start, start + 200).map((id) =>
        a.broker.putResult(APP2, id, APP2, {
          from: APP2,
          to: [APP1],
          task: id,
          status: "succeeded",
          body: BODY,
          metadata: null,
        }),
      ),
    );
  // Results come through the same watch: the last one seen at B means all are.
  const last = ids[ids.length - 1]!;
  const deadline = Date.now() + 120_000;
  while ((await b.broker.results(APP1, last, { count: 1, timeMs: 0 })).items.length === 0) {
    if (Date.now() > deadline) throw new Error("hub B never saw the results");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await a.close();
  const withResults = await heap();
  const perTask = (withTasks - before) / TASKS;
  const perResult = (withResults - withTasks) / TASKS;
  console.log(
    `cluster task copy, ${TASKS.toLocaleString("en-US")} live tasks with a ${BODY.length}-character body, hub B's heap after GC: ` +
      `${perTask.toFixed(0)} B per task; ${perResult.toFixed(0)} B more per result (64-character body); ` +
      `heap ${(before / 2 ** 20).toFixed(1)} → ${(withTasks / 2 ** 20).toFixed(1)} → ${(withResults / 2 ** 20).toFixed(1)} MiB; ` +
      `load ${loadavg()[0]!.toFixed(1)}`,
  );
  await b.close();
} finally {
  await nats.stop();
}
