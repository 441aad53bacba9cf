/**
 * In-process request/response: beamhub's `hub.call` against a promise-based EventEmitter round
 * trip (the raw mechanism) and Moleculer's local `broker.call` (the peer), in one run.
 *
 *   npx tsx bench/in-process.ts
 */
import { EventEmitter } from "node:events";
import { ServiceBroker } from "moleculer";
import { Hub, hubMetrics } from "../index.js";
import { measure, pipelined, report, roundRatio, type Contender } from "./harness.js";

const payload = { user: "ada", action: "lookup", id: 42 };

function eventEmitterRoundTrip(): (data: unknown) => Promise<unknown> {
  const emitter = new EventEmitter();
  const pending = new Map<number, (value: unknown) => void>();
  let nextId = 0;
  emitter.on("request", (id: number, data: unknown) => emitter.emit("reply", id, data));
  emitter.on("reply", (id: number, data: unknown) => {
    const resolve = pending.get(id)!;
    pending.delete(id);
    resolve(data);
  });
  return (data) =>
    new Promise((resolve) => {
      nextId += 1;
      pending.set(nextId, resolve);
      emitter.emit("request", nextId, data);
    });
}

async function main(): Promise<void> {
  // Metrics on (the default figures, a prom-client registry scraped every second, as Prometheus
  // would) against a hub that keeps no figures (`stats: false`), in the same run.
  const hub = new Hub();
  const metrics = hubMetrics(hub);
  const scraper = setInterval(() => void metrics.registry.metrics(), 1000);
  const bare = new Hub({ stats: false });
  for (const target of [hub, bare]) {
    await target.register("echo", (data: unknown) => data);
    // An async handler takes the full path: promise, deadline, bookkeeping for failover.
    await target.register("echo.async", async (data: unknown) => data);
  }

  const broker = new ServiceBroker({ logger: false, nodeID: "bench" });
  broker.createService({
    name: "echo",
    actions: {
      echo: (ctx: { params: unknown }) => ctx.params,
      async: async (ctx: { params: unknown }) => ctx.params,
    },
  });
  await broker.start();

  const roundTrip = eventEmitterRoundTrip();
  const sequential = (operation: () => Promise<unknown>) => async (count: number) => {
    for (let i = 0; i < count; i++) await operation();
  };
  const contenders = (mode: "sequential" | "100 in flight"): Contender[] => {
    const wrap =
      mode === "sequential"
        ? sequential
        : (operation: () => Promise<unknown>) => (count: number) => pipelined(count, 100, operation);
    return [
      { name: "EventEmitter round trip (raw)", run: wrap(() => roundTrip(payload)) },
      { name: "beamhub hub.call, sync handler", run: wrap(() => hub.call("echo", payload)) },
      { name: "moleculer broker.call, sync handler", run: wrap(() => broker.call("echo.echo", payload)) },
      { name: "beamhub hub.call, async handler", run: wrap(() => hub.call("echo.async", payload)) },
      { name: "moleculer broker.call, async handler", run: wrap(() => broker.call("echo.async", payload)) },
      { name: "beamhub sync handler, metrics off", run: wrap(() => bare.call("echo", payload)) },
      { name: "beamhub async handler, metrics off", run: wrap(() => bare.call("echo.async", payload)) },
    ];
  };

  const count = Number(process.env.BENCH_COUNT ?? 200_000);
  for (const mode of ["sequential", "100 in flight"] as const) {
    const results = await measure(contenders(mode), count);
    console.log(
      report(
        `in-process request/response, ${mode} (${count} calls × 5 rounds, median)`,
        results,
        "EventEmitter round trip (raw)",
        "calls/s",
      ),
    );
    const rate = (index: number): number => results[index]!.opsPerSecond;
    console.log(
      `  beamhub / moleculer: sync handler ${(rate(1) / rate(2)).toFixed(2)}×, async handler ${(rate(3) / rate(4)).toFixed(2)}×`,
    );
    // Paired per round (harness.ts): the drift of a shared machine between rounds cancels out.
    const paired = (on: number, off: number): string =>
      roundRatio(results[on]!.samples, results[off]!.samples).toFixed(3);
    console.log(
      `  metrics on / off (target >= 0.95): sync handler ${paired(1, 5)}, async handler ${paired(3, 6)}`,
    );
  }
  await broker.stop();
  clearInterval(scraper);
  await hub.close();
  await bare.close();
}

await main();
