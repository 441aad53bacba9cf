// The registry's JetStream stream losing its leader: the NATS node that leads the bucket's stream
// is SIGKILLed. The other two elect a new leader; registry writes resume (a service registered
// after the kill reaches the other hub and the bucket), and no hub loses a service it had.
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { jetstreamManager } from "@nats-io/jetstream";
import { Kvm } from "@nats-io/kv";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { ClusterSubjects } from "../../cluster/subjects.js";
import { Hub } from "../../index.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";

let nats: NatsCluster;
const hubA = new Hub();
const hubB = new Hub();
const clusters: Cluster[] = [];
const errors: string[] = [];
let raw: NatsConnection;
const subjects = new ClusterSubjects("leader");

beforeAll(async () => {
  nats = await startNatsCluster({ nodes: 3 });
  for (const [hub, name] of [
    [hubA, "hub-a"],
    [hubB, "hub-b"],
  ] as const)
    clusters.push(
      await joinCluster(hub, {
        servers: nats.urls,
        name: "leader",
        hub: name,
        onError: (error) => errors.push(`${name}: ${String(error)}`),
      }),
    );
  raw = await connect({ ...nats.connectOptions, maxReconnectAttempts: -1 });
}, 60_000);

afterAll(async () => {
  await raw?.close();
  await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
  await Promise.allSettled([hubA.close(), hubB.close()]);
  await nats?.stop();
});

/** Waits (bounded) until `hub` sees `count` instances of `name`. */
async function sees(hub: Hub, name: string, count: number, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  while ((await hub.lookup(name)).length !== count) {
    if (Date.now() > until)
      throw new Error(`no ${count} of "${name}" within ${ms} ms; errors: ${errors.slice(-5).join(" | ")}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("the registry's stream loses its leader", () => {
  it("writes resume on the new leader; no hub loses its services", async () => {
    hubA.session().registerNow("before.a", () => "a");
    hubB.session().registerNow("before.b", () => "b");
    await Promise.all(clusters.map((cluster) => cluster.settled()));
    await sees(hubA, "before.b", 1);
    await sees(hubB, "before.a", 1);

    const stream = `KV_${subjects.bucket}`;
    const info = await (await jetstreamManager(raw)).streams.info(stream);
    const leader = nats.servers.find((server) => server.name === info.cluster?.leader);
    expect(leader, `the leader of ${stream}: ${info.cluster?.leader}`).toBeDefined();
    await leader!.kill("SIGKILL");

    // A write after the kill: retried by the publisher until the new leader takes it.
    hubA.session().registerNow("after.a", () => "after");
    await sees(hubB, "after.a", 1, 30_000);
    expect(await hubB.call("after.a", null, { timeout: 10_000 })).toBe("after");
    const kv = await new Kvm(raw).open(subjects.bucket);
    const entry = await kv.get(subjects.serviceKey("after.a", "hub-a"));
    expect(entry?.operation).toBe("PUT");

    // What was there before is there still, on both sides, and callable.
    await sees(hubA, "before.b", 1);
    await sees(hubB, "before.a", 1);
    expect(await hubA.call("before.b", null, { timeout: 10_000 })).toBe("b");
    expect(await hubB.call("before.a", null, { timeout: 10_000 })).toBe("a");
    // JetStream's own API may still be electing (a request times out meanwhile): asked until it
    // answers, bounded.
    const newLeader = await untilAnswered(
      async () => (await (await jetstreamManager(raw)).streams.info(stream)).cluster?.leader,
    );
    expect(newLeader).not.toBe(leader!.name);
  }, 90_000);
});

/** `ask()`'s answer, asked again while it times out (JetStream electing), for up to 30 s. */
async function untilAnswered<T>(ask: () => Promise<T>): Promise<T> {
  const until = Date.now() + 30_000;
  for (;;) {
    try {
      return await ask();
    } catch (error) {
      if (Date.now() > until) throw error;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
