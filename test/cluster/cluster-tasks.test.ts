// Samply tasks across a cluster: a real 3-node NATS cluster with JetStream and three hubs (A and B
// are proxy1.broker, C is proxy2.broker), each with its task REST face. An application posts at
// one hub, its worker answers at another, and the sender reads the result at a third.
import { connect as connectNats, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenTasksHttp, TaskBroker, type TasksHttpListener } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { clusterTasks } from "../../cluster-tasks/share-tasks.js";
import {
  serializesConditionalWrites,
  type ClusterTaskStore,
} from "../../cluster-tasks/cluster-task-store.js";
import { TaskRecordError } from "../../cluster-tasks/errors.js";
import { taskKey } from "../../cluster-tasks/task-records.js";
import { startCli, type RunningCli } from "../cli/helpers.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";
import { RestClient, aResult, aTask, auth } from "../tasks/helpers.js";

const APP1 = "app1.proxy1.broker";
const APP2 = "app2.proxy2.broker";
const KEY = "App1Secret";
const BUCKET = "beam_ctasks_tasks";

interface TaskHub {
  hub: Hub;
  broker: TaskBroker;
  http: TasksHttpListener;
  cluster: Cluster;
  store: ClusterTaskStore;
  rest: RestClient;
  errors: unknown[];
}

let nats: NatsCluster;
const hubs: Record<"a" | "b" | "c", TaskHub> = {} as never;
let plain: NatsConnection;
let bucket: KV;
const dir = mkdtempSync(join(tmpdir(), "beamhub-cluster-tasks-"));
const running: RunningCli[] = [];

async function startHub(name: "a" | "b" | "c", id: string, node: number): Promise<TaskHub> {
  const hub = new Hub();
  const broker = await TaskBroker.open({ id, apiKeys: { app1: KEY, app2: KEY } });
  const http = await listenTasksHttp(broker);
  const errors: unknown[] = [];
  let store: ClusterTaskStore | undefined;
  // Its own node first, the others to reconnect to when that one dies.
  const servers = [nats.urls[node]!, ...nats.urls.filter((_, index) => index !== node)];
  const cluster = await joinCluster(hub, {
    servers,
    nats: { noRandomize: true },
    name: "ctasks",
    hub: `hub-${name}`,
    onError: (error) => errors.push(error),
    extensions: [
      clusterTasks(broker, {
        limits: { sweepIntervalMs: 200 },
        onError: (error) => errors.push(error),
        onOpen: (opened) => (store = opened),
      }),
    ],
  });
  return {
    hub,
    broker,
    http,
    cluster,
    store: store!,
    rest: new RestClient(`http://127.0.0.1:${http.port}`),
    errors,
  };
}

/** Polls `check` until it holds (bounded). */
async function eventually(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function ids(answer: { json: () => unknown }): string[] {
  return (answer.json() as { id: string }[]).map((task) => task.id);
}

beforeAll(async () => {
  nats = await startNatsCluster({ nodes: 3 });
  hubs.a = await startHub("a", "proxy1.broker", 0);
  hubs.b = await startHub("b", "proxy1.broker", 1);
  hubs.c = await startHub("c", "proxy2.broker", 2);
  plain = await connectNats({ servers: nats.urls[1]! });
  bucket = await new Kvm(plain).open(BUCKET);
}, 90_000);

afterAll(async () => {
  for (const cli of running) await cli.stop();
  await plain?.close();
  for (const { cluster, http, broker, hub } of Object.values(hubs)) {
    await cluster?.leave();
    await http?.close();
    await broker?.close();
    await hub?.close();
  }
  await nats?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe("Samply tasks across a cluster", () => {
  it("runs the walkthrough: posted at A, claimed and answered at C, the result awaited at B", async () => {
    const { a, b, c } = hubs;
    const task = aTask({ from: APP1, to: [APP2] });
    const id = String(task.id);
    expect((await a.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    // Seen at once elsewhere: a read waits for the watch to hold what the bucket had.
    const todo = await c.rest.request("GET", "/v1/tasks?filter=todo", APP2);
    expect(ids(todo)).toEqual([id]);
    expect((todo.json() as { body: string }[])[0]!.body).toBe(task.body);

    // The sender waits at B for one answer; a claim is not one.
    const awaited = b.rest.request("GET", `/v1/tasks/${id}/results?wait_count=1&wait_time=60s`, APP1);
    await eventually("B's long poll to wait", () => b.store.waiting === 1);
    const claim = aResult(id, "claimed", { from: APP2, to: [APP1] });
    expect((await c.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, claim)).status).toBe(201);
    expect(ids(await c.rest.request("GET", "/v1/tasks?filter=todo", APP2))).toEqual([]);
    const answer = aResult(id, "succeeded", { from: APP2, to: [APP1], body: "42" });
    expect((await c.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, answer)).status).toBe(204);
    // Woken by the watch: the poll may wait 60 s, the client gives up after 10 s.
    const results = await awaited;
    expect(results.status).toBe(200);
    expect(results.json()).toEqual([
      expect.objectContaining({ from: APP2, status: "succeeded", body: "42" }),
    ]);
    // A late claim never undoes the answer.
    expect((await c.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, claim)).status).toBe(204);
    expect((await b.rest.request("GET", `/v1/tasks/${id}/results`, APP1)).json()).toEqual([
      expect.objectContaining({ status: "succeeded" }),
    ]);
  });

  it("wakes a worker's long poll at one hub when the task is posted at another", async () => {
    const { a, c } = hubs;
    const waiting = c.rest.request("GET", `/v1/tasks?filter=todo&wait_count=1&wait_time=60s`, APP2);
    await eventually("C's long poll to wait", () => c.store.waiting === 1);
    const task = aTask({ from: APP1, to: [APP2] });
    expect((await a.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    const woken = await waiting;
    expect(woken.status).toBe(200);
    expect(ids(woken)).toEqual([task.id]);
  });

  it("creates a worker's first result once however many hubs race to store it", async () => {
    const { a, b, c } = hubs;
    // app2.proxy1.broker works at both proxy1 hubs, A and B.
    const worker = "app2.proxy1.broker";
    const task = aTask({ from: APP1, to: [worker] });
    const id = String(task.id);
    expect((await c.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(401);
    expect((await a.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    const statuses = await Promise.all(
      [a, b, a, b, a, b].map((hub, index) =>
        hub.rest.request(
          "PUT",
          `/v1/tasks/${id}/results/${worker}`,
          worker,
          aResult(id, "tempfailed", { from: worker, to: [APP1], body: `try ${index}` }),
        ),
      ),
    );
    const created = statuses.filter((answer) => answer.status === 201).length;
    expect(created + statuses.filter((answer) => answer.status === 204).length).toBe(6);
    // nats-server before 2.9.21 may let two racing creates of one key both pass (nats-server#4320).
    if (serializesConditionalWrites(plain.info?.version ?? "")) expect(created).toBe(1);
    else expect(created).toBeGreaterThanOrEqual(1);
    const stored = (await b.rest.request("GET", `/v1/tasks/${id}/results`, APP1)).json() as {
      body: string;
    }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.body).toMatch(/^try [0-5]$/);
  });

  it("keeps task ids unique across hubs, and refuses recipients no hub serves (424)", async () => {
    const { a, b } = hubs;
    const task = aTask({ from: APP1, to: [APP2] });
    const statuses = await Promise.all([
      a.rest.request("POST", "/v1/tasks", APP1, task),
      b.rest.request("POST", "/v1/tasks", APP1, { ...task, body: "another" }),
    ]);
    const sorted = statuses.map((answer) => answer.status).sort();
    // Two racing creates may both pass before nats-server 2.9.21 (nats-server#4320).
    if (serializesConditionalWrites(plain.info?.version ?? "")) expect(sorted).toEqual([201, 409]);
    else expect([`${[201, 409]}`, `${[201, 201]}`]).toContain(`${sorted}`);
    // Posted again later, the id is taken whichever hub is asked.
    expect((await b.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(409);
    const unknown = await a.rest.request(
      "POST",
      "/v1/tasks",
      APP1,
      aTask({ from: APP1, to: ["app2.proxy9.broker"] }),
    );
    expect(unknown.status).toBe(424);
    expect(unknown.text).toContain("proxy9.broker");
  });

  it("removes an expired task and its results once: the hub it was posted at does", async () => {
    const { a, b, c } = hubs;
    const task = aTask({ from: APP1, to: [APP2], ttl: "1s" });
    const id = String(task.id);
    const deletes: number[] = [];
    const watch = await bucket.watch({ key: ">", include: "updates" });
    void (async () => {
      for await (const entry of watch)
        if (entry.key.includes(id) && entry.operation !== "PUT") deletes.push(entry.revision);
    })();
    const before = Object.values(hubs).reduce((sum, hub) => sum + hub.store.expired, 0);
    expect((await a.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    const result = aResult(id, "succeeded", { from: APP2, to: [APP1] });
    expect((await c.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, result)).status).toBe(201);
    await eventually("the task and its result to be deleted", () => deletes.length === 2);
    for (const hub of [a, b])
      expect((await hub.rest.request("GET", `/v1/tasks/${id}`, APP1)).status).toBe(404);
    // Every hub sweeps five more times: none deletes again (the others wait 5 s for hub A).
    await new Promise((resolve) => setTimeout(resolve, 1000));
    watch.stop();
    expect(deletes).toHaveLength(2);
    expect(Object.values(hubs).reduce((sum, hub) => sum + hub.store.expired, 0) - before).toBe(1);
    expect(await bucket.get(taskKey(id))).toMatchObject({ operation: "DEL" });
  });

  it("skips a malformed record in the bucket, reporting it, and serves the rest", async () => {
    const { a, b } = hubs;
    const bad = aTask().id as string;
    await bucket.put(taskKey(bad), '{"v":1,"hub":"x","expires":1e300,"task":{}}');
    const task = aTask({ from: APP1, to: [APP2] });
    expect((await a.rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    const listed = await b.rest.request("GET", `/v1/tasks?from=${APP1}`, APP1);
    expect(listed.status).toBe(200);
    expect(ids(listed)).toContain(task.id);
    expect(ids(listed)).not.toContain(bad);
    await eventually("every hub to report the record", () =>
      Object.values(hubs).every((hub) =>
        hub.errors.some((error) => error instanceof TaskRecordError && error.key === taskKey(bad)),
      ),
    );
    await bucket.delete(taskKey(bad));
  });

  it("keeps a killed hub's tasks: its pollers just go", { timeout: 60_000 }, async () => {
    const { b, c } = hubs;
    const hubD = await startCli(
      [
        "serve",
        "--listen-https",
        "off",
        "--socket",
        join(dir, "d.sock"),
        "--id",
        "proxy1.broker",
        "--listen-http",
        "127.0.0.1:0",
        "--cluster",
        nats.urls.join(","),
        "--cluster-name",
        "ctasks",
        "--hub-name",
        "hub-d",
      ],
      /press Ctrl-C/,
      { APP_app1_KEY: KEY },
    );
    running.push(hubD);
    expect(hubD.stderr()).toMatch(/Samply tasks of proxy1\.broker are shared by the cluster's hubs/);
    const d = new RestClient(hubD.stderr().match(/REST on (http:\/\/127\.0\.0\.1:\d+)\/v1\/tasks/)![1]!);
    const task = aTask({ from: APP1, to: [APP2] });
    const id = String(task.id);
    expect((await d.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    const poller = d.request("GET", `/v1/tasks/${id}/results?wait_count=1&wait_time=60s`, APP1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    hubD.child.kill("SIGKILL");
    await expect(poller).rejects.toThrow();
    const answer = aResult(id, "succeeded", { from: APP2, to: [APP1] });
    expect((await c.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, answer)).status).toBe(201);
    const results = await b.rest.request("GET", `/v1/tasks/${id}/results?wait_count=1&wait_time=20s`, APP1);
    expect(results.json()).toEqual([expect.objectContaining({ from: APP2, status: "succeeded" })]);
  });

  it("goes on when a NATS node is killed", { timeout: 90_000 }, async () => {
    const { a, b, c } = hubs;
    await nats.servers[0]!.kill();
    const task = aTask({ from: APP1, to: [APP2] });
    const id = String(task.id);
    // Hub A was on the killed node: it reconnects, and JetStream elects new leaders meanwhile
    // (the store retries for up to 20 s; a NATS request times out after 5 s).
    const posted = await fetch(`${a.rest.base}/v1/tasks`, {
      method: "POST",
      headers: { ...auth(APP1, KEY), "content-type": "application/json" },
      body: JSON.stringify(task),
      signal: AbortSignal.timeout(45_000),
    });
    expect(posted.status, await posted.text()).toBe(201);
    // Every hub may still be reconnecting or waiting for new leaders (in CI one request took
    // over 10 s after the post had gone through): each request gets the store's 20 s and more.
    const slow = 45_000;
    expect(ids(await c.rest.request("GET", "/v1/tasks?filter=todo", APP2, undefined, {}, slow))).toContain(
      id,
    );
    const answer = aResult(id, "succeeded", { from: APP2, to: [APP1] });
    expect(
      (await c.rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, answer, {}, slow)).status,
    ).toBe(201);
    const results = await b.rest.request(
      "GET",
      `/v1/tasks/${id}/results?wait_count=1&wait_time=5s`,
      APP1,
      undefined,
      {},
      slow,
    );
    expect(results.json()).toEqual([expect.objectContaining({ status: "succeeded" })]);
    expect((await a.rest.request("GET", `/v1/tasks/${id}/results`, APP1, undefined, {}, slow)).status).toBe(
      200,
    );
  });
});
