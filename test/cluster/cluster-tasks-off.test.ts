// `beamhub serve --cluster ... --cluster-tasks off`: a clustered hub whose Samply tasks stay on
// it. A hub that shares its tasks runs beside it on the same cluster (one real NATS server with
// JetStream): neither sees the other's tasks, and nothing of the local hub's goes to the bucket.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenTasksHttp, TaskBroker, type TasksHttpListener } from "../../index.js";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { clusterTasks } from "../../cluster-tasks/share-tasks.js";
import { taskBucket, taskKey } from "../../cluster-tasks/task-records.js";
import { ClusterSubjects } from "../../cluster/subjects.js";
import { beamhub, startCli, type RunningCli } from "../cli/helpers.js";
import { startNatsServer, type SingleNatsServer } from "../helpers/nats-cluster.js";
import { APP1, APP2, KEYS, RestClient, aTask } from "../tasks/helpers.js";

const NAME = "tasksoff";
let dir: string;
let nats: SingleNatsServer;
let shared: { hub: Hub; broker: TaskBroker; http: TasksHttpListener; cluster: Cluster };
let local: RunningCli | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cluster-tasks-off-"));
  nats = await startNatsServer();
  const hub = new Hub();
  const broker = await TaskBroker.open({ id: "proxy1.broker", apiKeys: KEYS });
  const http = await listenTasksHttp(broker);
  const cluster = await joinCluster(hub, {
    servers: nats.url,
    name: NAME,
    hub: "shared",
    extensions: [clusterTasks(broker)],
  });
  shared = { hub, broker, http, cluster };
}, 60_000);

afterAll(async () => {
  await local?.stop();
  await shared?.cluster.leave();
  await shared?.http.close();
  await shared?.broker.close();
  await shared?.hub.close();
  await nats?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("--cluster-tasks off", () => {
  it("keeps a clustered hub's tasks on it: not in the bucket, not seen by the hub that shares", async () => {
    local = await startCli(
      ["serve", "--listen-https", "off", "--socket", join(dir, "local.sock"), "--id", "proxy1.broker"]
        .concat(["--listen-http", "127.0.0.1:0", "--tasks-file", "off", "--cluster", nats.url])
        .concat(["--cluster-name", NAME, "--hub-name", "local", "--cluster-tasks", "off"]),
      /press Ctrl-C/,
      { APP_app1_KEY: KEYS.app1, APP_app2_KEY: KEYS.app2 },
    );
    expect(local.stderr()).toMatch(/cluster: hub "local" of cluster "tasksoff"/);
    expect(local.stderr()).not.toMatch(/shared by the cluster's hubs/);
    expect(local.stderr()).toMatch(/tasks: .*in memory only/);
    const rest = new RestClient(local.stderr().match(/REST on (http:\/\/127\.0\.0\.1:\d+)\/v1\/tasks/)![1]!);
    const sharedRest = new RestClient(`http://127.0.0.1:${shared.http.port}`);

    const mine = aTask({ from: APP1, to: [APP2] });
    expect((await rest.request("POST", "/v1/tasks", APP1, mine)).status).toBe(201);
    expect((await rest.request("GET", `/v1/tasks/${String(mine.id)}`, APP1)).status).toBe(200);
    const theirs = aTask({ from: APP1, to: [APP2] });
    expect((await sharedRest.request("POST", "/v1/tasks", APP1, theirs)).status).toBe(201);

    // A shared post is in the bucket once answered; the local one never goes there.
    const bucket = await new Kvm(shared.cluster.nats).open(taskBucket(new ClusterSubjects(NAME).bucket));
    expect((await bucket.get(taskKey(String(theirs.id))))?.operation).toBe("PUT");
    expect(await bucket.get(taskKey(String(mine.id)))).toBeNull();
    expect((await sharedRest.request("GET", `/v1/tasks/${String(mine.id)}`, APP1)).status).toBe(404);
    expect((await rest.request("GET", `/v1/tasks/${String(theirs.id)}`, APP1)).status).toBe(404);
  }, 40_000);

  it("is on or off; given anything else, or without --cluster, serve refuses to start", async () => {
    const socket = join(dir, "refused.sock");
    const bad = await beamhub(
      ["serve", "--listen-https", "off", "--socket", socket].concat([
        "--cluster",
        nats.url,
        "--cluster-tasks",
        "maybe",
      ]),
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--cluster-tasks: "maybe" is neither on nor off/);
    const alone = await beamhub([
      "serve",
      "--listen-https",
      "off",
      "--socket",
      socket,
      "--cluster-tasks",
      "off",
    ]);
    expect(alone.code).toBe(2);
    expect(alone.stderr).toMatch(/--cluster-tasks needs --cluster URLS/);
    const help = await beamhub(["serve", "--help"]);
    expect(help.stdout + help.stderr).toMatch(/--cluster-tasks on\|off/);
  }, 40_000);
});
