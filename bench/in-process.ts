/**
 * In-process request/response: beamhub's `hub.call` against a promise-based EventEmitter round
 * trip (the raw mechanism) and Moleculer's local `broker.call` (the peer), in one run.
 *
 * Each contender runs in loop code of its own (own-loop.ts: a shared loop measured whoever ran
 * after the others with megamorphic code) and rounds are timed in CPU time (harness.ts `cpu`:
 * the machine's other processes do not count). Ratios print as `median (lowest–highest)` of the
 * per-round ratios.
 *
 *   npx tsx bench/in-process.ts                    (BENCH_COUNT=200000, BENCH_ROUNDS=7)
 */
import { EventEmitter } from "node:events";
import { ServiceBroker } from "moleculer";
import { Hub, hubMetrics } from "../index.js";
import { formatSpread, measure, report, roundRatioSpread } from "./harness.js";
import { contendersFor, MODES, type Operation } from "./modes.js";

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
  const operations: Operation[] = [
    ["EventEmitter round trip (raw)", () => roundTrip(payload)],
    ["beamhub hub.call, sync handler", () => hub.call("echo", payload)],
    ["moleculer broker.call, sync handler", () => broker.call("echo.echo", payload)],
    ["beamhub hub.call, async handler", () => hub.call("echo.async", payload)],
    ["moleculer broker.call, async handler", () => broker.call("echo.async", payload)],
    ["beamhub sync handler, metrics off", () => bare.call("echo", payload)],
    ["beamhub async handler, metrics off", () => bare.call("echo.async", payload)],
  ];

  const count = Number(process.env.BENCH_COUNT ?? 200_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 7);
  for (const mode of MODES) {
    const results = await measure(await contendersFor(mode, operations), count, rounds, "cpu");
    console.log(
      report(
        `in-process request/response, ${mode} (${count} calls × ${rounds} rounds, median, CPU time)`,
        results,
        "EventEmitter round trip (raw)",
        "calls/s",
      ),
    );
    // Paired per round (harness.ts): the drift of a shared machine between rounds cancels out.
    const paired = (over: number, under: number): string =>
      formatSpread(roundRatioSpread(results[over]!.samples, results[under]!.samples));
    console.log(`  beamhub / moleculer: sync handler ${paired(1, 2)}, async handler ${paired(3, 4)}`);
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
