// No call runs twice across a link reset: hub A calls a service that hubs B and C both offer,
// with many calls in flight to C, and the NATS node C is connected to is SIGKILLed. C reconnects
// elsewhere; meanwhile A's links to C reset and A may judge C gone. Every call either ran exactly
// once (and answered) or failed typed; none ran on C and then again on B by failover.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { joinCluster, type Cluster } from "../../cluster/index.js";
import { Hub } from "../../index.js";
import { startNatsCluster, type NatsCluster } from "../helpers/nats-cluster.js";

let nats: NatsCluster;
const hubs = { a: new Hub(), b: new Hub(), c: new Hub() };
const clusters: Cluster[] = [];
/** Call id → the hubs whose handler ran it. */
const ran = new Map<number, string[]>();

beforeAll(async () => {
  nats = await startNatsCluster({ nodes: 3 });
  const [n1, n2, n3] = nats.urls as [string, string, string];
  // C on n3 first (the node to kill), A and B on n1; all may reconnect anywhere.
  const order = { a: [n1, n2, n3], b: [n1, n2, n3], c: [n3, n1, n2] };
  for (const name of ["a", "b", "c"] as const)
    clusters.push(
      await joinCluster(hubs[name], {
        servers: order[name],
        name: "once",
        hub: `hub-${name}`,
        nats: { noRandomize: true },
      }),
    );
  for (const name of ["b", "c"] as const)
    hubs[name].session().registerNow("once.work", async (id: number) => {
      ran.set(id, [...(ran.get(id) ?? []), name]);
      // Long enough that calls are in flight when the node dies.
      await new Promise((resolve) => setTimeout(resolve, 200));
      return name;
    });
  await Promise.all(clusters.map((cluster) => cluster.settled()));
  const until = Date.now() + 15_000;
  while ((await hubs.a.lookup("once.work")).length !== 2) {
    if (Date.now() > until) throw new Error("hub A never saw both instances of once.work");
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(clusters.map((cluster) => cluster.leave()));
  await Promise.allSettled(Object.values(hubs).map((hub) => hub.close()));
  await nats?.stop();
});

describe("a link reset with calls in flight", () => {
  it("every call ran once or failed typed; none ran twice", async () => {
    const onC = { labels: { "beamhub/hub": "hub-c" } };
    // Warm the link A → C, then fill it with calls.
    expect(await hubs.a.call("once.work", 0, { ...onC, timeout: 10_000 })).toBe("c");
    ran.clear();
    const calls = Array.from({ length: 200 }, (_, index) => index + 1).map((id) =>
      hubs.a.call("once.work", id, { timeout: 20_000 }).then(
        (answer) => ({ id, answer: answer as string }),
        (error: { code?: string }) => ({ id, code: error?.code }),
      ),
    );
    // Once C runs some of them, kill C's NATS node.
    const until = Date.now() + 10_000;
    while (![...ran.values()].some((where) => where.includes("c"))) {
      if (Date.now() > until) throw new Error("hub C never ran a call");
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await nats.servers[2]!.kill("SIGKILL");
    const outcomes = await Promise.all(calls);

    const twice = [...ran].filter(([, where]) => where.length > 1);
    expect(twice, `calls that ran twice: ${JSON.stringify(twice.slice(0, 5))}`).toEqual([]);
    for (const outcome of outcomes) {
      if ("answer" in outcome) expect(ran.get(outcome.id)).toEqual([outcome.answer]);
      else expect(outcome.code, `call ${outcome.id}`).toMatch(/^E[A-Z_]+$/);
    }
    expect(outcomes).toHaveLength(200);
  }, 90_000);
});
