// What the NATS test harness (test/helpers/nats-cluster.ts) costs and how fast a cluster heals,
// on this machine, so that cluster tests can choose their time limits from numbers:
//   start      startNatsCluster() until waitHealthy() passes (3 nodes, JetStream, routes,
//              meta leader, $JS.API.INFO on each)
//   kv         createReplicatedKv (replicas 3) right after that
//   failover   after SIGKILL of the node a client is connected to (the client has all urls):
//              until a request/reply succeeds, and until a KV put on the bucket succeeds
//   restart    restart() of that node until waitHealthy() passes again
//   stop       stop() (SIGKILL all, remove the temp dir)
//   rss        each nats-server's resident memory after the round (/varz mem)
// BENCH_ROUNDS (default 5) rounds, each on a new cluster; medians and maxima. BENCH_TLS=1 runs
// the cluster with mutual TLS.
//
//   npx tsx bench/nats-cluster.ts
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { createReplicatedKv, startNatsCluster } from "../test/helpers/nats-cluster.js";
import { median } from "./harness.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const TLS = process.env.BENCH_TLS === "1";

/** Runs `attempt` until it resolves (at most 60 s): the milliseconds that took. */
async function until(what: string, attempt: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  for (;;) {
    try {
      await attempt();
      return performance.now() - started;
    } catch (error) {
      if (performance.now() - started > 60_000)
        throw new Error(`${what} still failing after 60 s`, { cause: error });
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

const samples: Record<string, number[]> = {};
const record = (name: string, ms: number): void => {
  (samples[name] ??= []).push(ms);
};

for (let round = 0; round < ROUNDS; round++) {
  const started = performance.now();
  const cluster = await startNatsCluster({ tls: TLS && { verifyClients: true } });
  record("start → healthy (ms)", performance.now() - started);
  const connections: NatsConnection[] = [];
  try {
    const options = {
      ...cluster.connectOptions,
      noRandomize: true,
      reconnectTimeWait: 50,
      maxReconnectAttempts: -1,
    };
    const client = await connect(options);
    const responder = await connect({ ...options, servers: cluster.urls[2]! });
    connections.push(client, responder);
    responder.subscribe("bench.echo", {
      callback: (error, message) => {
        if (error === null) message.respond(message.data);
      },
    });
    await responder.flush();
    let kv!: Awaited<ReturnType<typeof createReplicatedKv>>;
    record(
      "createReplicatedKv, replicas 3 (ms)",
      await timed(async () => (kv = await createReplicatedKv(client, "bench"))),
    );
    await kv.put("warm", "1");

    const victim = cluster.servers[0]!; // the client's server (noRandomize)
    await victim.kill("SIGKILL");
    const killed = performance.now();
    await until("request/reply", () => client.request("bench.echo", "x", { timeout: 1000 }));
    record("SIGKILL → request/reply works (ms)", performance.now() - killed);
    await until("KV put", () => kv.put("after", "2", { timeout: 1000 }));
    record("SIGKILL → KV put works (ms)", performance.now() - killed);

    record(
      "restart() → healthy (ms)",
      await timed(async () => {
        await victim.restart();
        await cluster.waitHealthy();
      }),
    );
    for (const server of cluster.servers) {
      const varz = (await (await fetch(`${server.monitorUrl}/varz`)).json()) as { mem: number };
      record("nats-server RSS (MiB)", varz.mem / 1024 / 1024);
    }
  } finally {
    await Promise.allSettled(connections.map((nc) => nc.close()));
    record("stop() (ms)", await timed(() => cluster.stop()));
  }
}

console.log(`\nNATS harness: 3-node cluster${TLS ? " with mutual TLS" : ""}, ${ROUNDS} rounds`);
console.log(`  ${"".padEnd(38)} ${"median".padStart(8)} ${"max".padStart(8)}`);
for (const [name, values] of Object.entries(samples)) {
  console.log(
    `  ${name.padEnd(38)} ${median(values).toFixed(0).padStart(8)} ${Math.max(...values)
      .toFixed(0)
      .padStart(8)}`,
  );
}
