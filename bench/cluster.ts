/**
 * Cluster: hub A (this process) calls a service of hub C (a process of its own), each joined to
 * its own node of a 3-node NATS cluster — against raw nats.js request/reply and Moleculer 0.14's
 * NATS transporter between the same two processes and NATS nodes, with the same JSON payload; at
 * 1 and 100 in flight, and serial p50 latency. Then 64 MiB over a ByteStream A → C against
 * nats.js publishing the same bytes in 64 KiB messages to a subscriber on C. Interleaved rounds,
 * medians of per-round ratios.
 *
 *   npx tsx bench/cluster.ts                      (ROUNDS=5 by default)
 *   CPU_PROF=/tmp/prof node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/cluster.ts
 */
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { joinCluster } from "../cluster/index.js";
import { ByteStream, Hub } from "../index.js";
import { startNatsCluster } from "../test/helpers/nats-cluster.js";
import { forkChild } from "./cluster/child.js";
import { moleculerBroker } from "./cluster/moleculer-nats.js";
import { median, pipelined, roundRatio } from "./harness.js";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const payload = { user: "ada", items: [1, 2, 3], note: "x".repeat(100) };

const nats = await startNatsCluster({ nodes: 3 });
const serviceSide = forkChild(join(import.meta.dirname, "cluster/service-side.ts"));
const hubA = new Hub();
let leave: (() => Promise<void>) | undefined;
const nc = await connect({ servers: nats.urls[0]!, noAsyncTraces: true });
const broker = moleculerBroker("caller", nats.urls[0]!);

try {
  await serviceSide.request({ url: nats.urls[2]! });
  const cluster = await joinCluster(hubA, { servers: nats.urls[0]!, name: "bench", hub: "hub-a" });
  leave = () => cluster.leave();
  await hubA.call("echo", payload, { waitForService: 15_000 });
  await broker.start();
  await broker.waitForServices(["bench"], 15_000);

  const encoder = new TextEncoder();
  const decoder = new TextDecoder();
  const contenders: Record<string, () => Promise<unknown>> = {
    beamhub: () => hubA.call("echo", payload),
    "nats.js request/reply": async () =>
      JSON.parse(
        decoder.decode(
          (await nc.request("raw.echo", encoder.encode(JSON.stringify(payload)), { timeout: 30_000 })).data,
        ),
      ),
    "Moleculer over NATS": () => broker.call("bench.echo", payload),
  };

  console.log(
    `cluster bench, ${ROUNDS} rounds, node ${process.version}, ${cpus().length}× ${cpus()[0]?.model}, ` +
      `load ${loadavg()
        .map((load) => load.toFixed(1))
        .join(" ")}, ${new Date().toISOString()}`,
  );
  console.log(
    "hub A (this process, NATS node 1) → hub C (another process, NATS node 3), 3-node NATS cluster",
  );
  for (const [inFlight, count] of [
    [1, 2_000],
    [100, 20_000],
  ] as const) {
    const rates = new Map<string, number[]>(Object.keys(contenders).map((name) => [name, []]));
    const rate = async (operation: () => Promise<unknown>) => {
      const started = performance.now();
      await pipelined(count, inFlight, operation);
      return count / ((performance.now() - started) / 1000);
    };
    for (const operation of Object.values(contenders)) await rate(operation); // warm-up
    for (let round = 0; round < ROUNDS; round++)
      for (const [name, operation] of Object.entries(contenders))
        rates.get(name)!.push(await rate(operation));
    const beamhub = rates.get("beamhub")!;
    console.log(`calls, ${inFlight} in flight (${count} per round):`);
    for (const [name, values] of rates)
      console.log(
        `  ${name.padEnd(24)} ${Math.round(median(values)).toLocaleString("en-US").padStart(8)}/s` +
          `  (spread ${Math.round(Math.min(...values))}–${Math.round(Math.max(...values))})` +
          (name === "beamhub"
            ? ""
            : `  beamhub ÷ this, median of rounds: ${roundRatio(beamhub, values).toFixed(2)}×`),
      );
  }

  // Serial latency: every call timed alone, contenders interleaved call by call.
  const latencies = new Map<string, number[]>(Object.keys(contenders).map((name) => [name, []]));
  for (let index = 0; index < 3_000; index++)
    for (const [name, operation] of Object.entries(contenders)) {
      const started = performance.now();
      await operation();
      if (index >= 300) latencies.get(name)!.push((performance.now() - started) * 1000);
    }
  console.log("serial latency (2,700 calls each, interleaved):");
  for (const [name, values] of latencies) {
    const sorted = [...values].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.floor(q * (sorted.length - 1))]!.toFixed(0);
    console.log(`  ${name.padEnd(24)} p50 ${at(0.5).padStart(5)} µs  p99 ${at(0.99).padStart(6)} µs`);
  }

  // 64 MiB A → C: a ByteStream to `drain`, and raw publishes of 64 KiB to a subscriber.
  const BYTES = 64 * 1048576;
  const CHUNK = new Uint8Array(64 * 1024).fill(7);
  const streams: Record<string, () => Promise<number>> = {
    "beamhub ByteStream": async () => {
      const [mine, theirs] = ByteStream.pair();
      const received = hubA.call<number>("drain", { stream: theirs }, { timeout: 120_000 });
      const writer = mine.writable.getWriter();
      for (let sent = 0; sent < BYTES; sent += CHUNK.byteLength) await writer.write(CHUNK);
      await writer.close();
      return received;
    },
    "nats.js pub→sub": async () => {
      for (let sent = 0; sent < BYTES; sent += CHUNK.byteLength) nc.publish("raw.sink", CHUNK);
      return Number(decoder.decode((await nc.request("raw.sink", undefined, { timeout: 120_000 })).data));
    },
  };
  const throughput = new Map<string, number[]>(Object.keys(streams).map((name) => [name, []]));
  const streamRate = async (name: string, run: () => Promise<number>) => {
    const started = performance.now();
    const arrived = await run();
    if (arrived !== BYTES) throw new Error(`${name}: sent ${BYTES} bytes, ${arrived} arrived`);
    return BYTES / 1048576 / ((performance.now() - started) / 1000);
  };
  for (const [name, run] of Object.entries(streams)) await streamRate(name, run); // warm-up
  for (let round = 0; round < ROUNDS; round++)
    for (const [name, run] of Object.entries(streams))
      throughput.get(name)!.push(await streamRate(name, run));
  const ours = throughput.get("beamhub ByteStream")!;
  const raw = throughput.get("nats.js pub→sub")!;
  console.log(
    `64 MiB A → C: beamhub ByteStream ${median(ours).toFixed(0)} MiB/s (spread ${Math.min(...ours).toFixed(0)}–${Math.max(...ours).toFixed(0)}); ` +
      `nats.js pub→sub in 64 KiB ${median(raw).toFixed(0)} MiB/s (spread ${Math.min(...raw).toFixed(0)}–${Math.max(...raw).toFixed(0)}); ` +
      `ratio ${roundRatio(ours, raw).toFixed(2)}×`,
  );
} finally {
  await broker.stop().catch(() => undefined);
  await nc.drain().catch(() => undefined);
  await leave?.().catch(() => undefined);
  await hubA.close();
  await serviceSide.stop();
  await nats.stop();
}
