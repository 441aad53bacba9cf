// The figures of a clustered hub's task broker: with tasks shared, its task count and waiting
// requests (the `tasks` and `task_waiters` metrics) come from the cluster's store, not from the
// local broker that no longer holds any. Two hubs on one real NATS server with JetStream.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenTasksHttp, TaskBroker, type TasksHttpListener } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { clusterTasks } from "../../cluster-tasks/share-tasks.js";
import { hubMetrics } from "../../observability/hub-metrics.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";
import { APP1, APP2, KEYS, RestClient, aTask } from "../tasks/helpers.js";

interface TaskHub {
  hub: Hub;
  broker: TaskBroker;
  http: TasksHttpListener;
  cluster: Cluster;
  rest: RestClient;
}

let nats: SingleNatsServer;
const hubs: TaskHub[] = [];

beforeAll(async () => {
  nats = await startNatsServer();
  for (const name of ["hub-a", "hub-b"]) {
    const hub = new Hub();
    const broker = await TaskBroker.open({ id: "proxy1.broker", apiKeys: KEYS });
    const http = await listenTasksHttp(broker);
    const cluster = await joinCluster(hub, {
      servers: nats.url,
      name: "figures",
      hub: name,
      extensions: [clusterTasks(broker)],
    });
    hubs.push({ hub, broker, http, cluster, rest: new RestClient(`http://127.0.0.1:${http.port}`) });
  }
}, 60_000);

afterAll(async () => {
  for (const { cluster, http, broker, hub } of hubs) {
    await cluster.leave();
    await http.close();
    await broker.close();
    await hub.close();
  }
  await nats?.stop();
});

/** Polls `check` every 20 ms until it holds; fails naming `what` after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: () => string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what()} (waited ${ms} ms)`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** The value of gauge `name` in `hub`'s metrics. */
async function gauge(hub: TaskHub, name: string): Promise<number | undefined> {
  const metrics = hubMetrics(hub.hub);
  metrics.addTasks(() => ({ tasks: hub.broker.taskCount, waiting: hub.broker.waiting }));
  const metric = (await metrics.registry.getMetricsAsJSON()).find((entry) => entry.name.endsWith(name));
  return (metric?.values[0] as { value?: number } | undefined)?.value;
}

describe("a clustered hub's task figures", () => {
  it("count the cluster's tasks and this hub's long polls on it, in the broker and the metrics", async () => {
    const [a, b] = hubs as [TaskHub, TaskHub];
    const posted = await a.rest.request("POST", "/v1/tasks", APP1, aTask({ from: APP1, to: [APP2] }));
    expect(posted.status).toBe(201);
    for (const hub of [a, b])
      await until(
        () => hub.broker.taskCount === 1,
        10_000,
        () => `${hub.cluster.hub} counts ${hub.broker.taskCount} tasks, not the one posted at hub A`,
      );
    expect(await gauge(b, "tasks")).toBe(1);

    // A long poll at B for a task that never comes: B's figure, not A's.
    const polling = b.rest.request("GET", "/v1/tasks?filter=todo&wait_count=2&wait_time=3s", APP2);
    await until(
      () => b.broker.waiting === 1,
      10_000,
      () => `hub B counts ${b.broker.waiting} waiting requests, not its long poll`,
    );
    expect(a.broker.waiting).toBe(0);
    expect(await gauge(b, "task_waiters")).toBe(1);
    // Samply answers 206 when fewer tasks than wait_count came.
    expect((await polling).status).toBe(206);
    await until(
      () => b.broker.waiting === 0,
      10_000,
      () => "the long poll was still counted after it ended",
    );
  }, 30_000);
});
