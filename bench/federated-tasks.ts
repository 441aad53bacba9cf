/**
 * Tasks across a federation: one task posted at site 1 for an app at site 2 and read there
 * (`post` + `tasks?to=`), through the broker with sealed bodies, against the same two
 * operations on one hub's local task store; sequential, so each figure is a latency. Same
 * process, interleaved rounds, medians.
 *
 *   npx tsx bench/federated-tasks.ts
 */
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serveFederatedTasks } from "../federation-tasks/broker-tasks.js";
import { SiteTasks } from "../federation-tasks/site-tasks.js";
import { serveBroker } from "../federation/broker.js";
import { CertificateAuthority } from "../federation/pki/authority.js";
import { joinFederation } from "../federation/site.js";
import { Hub, listenHttps, TaskBroker } from "../index.js";
import { median } from "./harness.js";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PER_ROUND = Number(process.env.PER_ROUND ?? 100);
const BODY = "x".repeat(Number(process.env.BODY ?? 1024));

const dir = await mkdtemp(join(tmpdir(), "bench-federated-tasks-"));
const ca = await CertificateAuthority.init(join(dir, "ca"));
const brokerCredentials = await ca.issue("broker");
const brokerHub = new Hub();
const listener = await listenHttps(brokerHub, {
  host: "127.0.0.1",
  port: 0,
  cert: brokerCredentials.certificate,
  key: brokerCredentials.key,
  ca: ca.rootPem,
  requireAuth: true,
});
const broker = await serveBroker(brokerHub, { root: ca.rootPem, cert: brokerCredentials.certificate });
const brokerTasks = await TaskBroker.open({ id: "broker", reachable: () => true });
await serveFederatedTasks(brokerHub, brokerTasks, broker);

async function site(id: string): Promise<{ hub: Hub; tasks: TaskBroker; close(): Promise<void> }> {
  const hub = new Hub();
  const credentials = await ca.issue(id);
  const joined = await joinFederation(hub, {
    broker: listener.url,
    id,
    cert: credentials.certificate,
    key: credentials.key,
    root: ca.rootPem,
  });
  const tasks = await TaskBroker.open({ id, apiKeys: { app1: "k", app2: "k" } });
  tasks.federate(new SiteTasks(joined));
  return {
    hub,
    tasks,
    close: async () => {
      await tasks.close();
      await joined.close();
      await hub.close();
    },
  };
}
const one = await site("proxy1.broker");
const two = await site("proxy2.broker");
const local = await TaskBroker.open({ id: "proxy1.broker", apiKeys: { app1: "k", app2: "k" } });

const task = (from: string, to: string) => ({
  id: randomUUID(),
  from,
  to: [to],
  body: BODY,
  ttl: "60s",
  failure_strategy: "discard",
  metadata: null,
});

/** Microseconds per post + read, sequential. */
async function perTask(post: TaskBroker, read: TaskBroker, from: string, to: string): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < PER_ROUND; i++) {
    const posted = await post.post(from, task(from, to));
    const found = await read.task(to, posted.id);
    if (found.body !== BODY) throw new Error("the body did not come back");
  }
  return Number(process.hrtime.bigint() - start) / 1000 / PER_ROUND;
}

const federated: number[] = [];
const alone: number[] = [];
for (let round = 0; round < ROUNDS; round++) {
  federated.push(await perTask(one.tasks, two.tasks, "app1.proxy1.broker", "app2.proxy2.broker"));
  alone.push(await perTask(local, local, "app1.proxy1.broker", "app2.proxy1.broker"));
}
console.log(`body ${BODY.length} B, ${ROUNDS} rounds of ${PER_ROUND} tasks (post + read by id)`);
console.log(`one hub, local store:           ${median(alone).toFixed(0)} µs per task`);
console.log(`site → broker → site, sealed:   ${median(federated).toFixed(0)} µs per task`);

await one.close();
await two.close();
await local.close();
await brokerTasks.close();
await listener.close();
await brokerHub.close();
await rm(dir, { recursive: true, force: true });
