/**
 * 100 000 calls timing out together (issue 19): how long the event loop stalls while their
 * deadlines expire, measured with `perf_hooks.monitorEventLoopDelay`, plus the CPU spent, the
 * spread from the first to the last timeout, and whether they failed in the order they started.
 *
 *   npx tsx bench/timeouts.ts            (BENCH_CALLS=100000, BENCH_ROUNDS=3)
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { CallTimeoutError, Hub } from "../index.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TIMEOUT_MS = 1000;

async function round(hub: Hub): Promise<void> {
  const order: number[] = [];
  let first = 0;
  let last = 0;
  const settled: Promise<void>[] = [];
  const started = performance.now();
  for (let i = 0; i < CALLS; i++) {
    settled.push(
      hub.call("never", i, { timeout: TIMEOUT_MS }).then(
        () => {
          throw new Error("a call that should time out was answered");
        },
        (error: unknown) => {
          if (!(error instanceof CallTimeoutError)) throw error;
          last = performance.now();
          if (first === 0) first = last;
          order.push(i);
        },
      ),
    );
  }
  // Watch the loop only around the expiry, not while the calls were being made.
  const made = performance.now() - started;
  if (made > TIMEOUT_MS - 100)
    throw new Error(`making the calls took ${made.toFixed(0)} ms: raise TIMEOUT_MS`);
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS - 100 - made));
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const cpu = process.cpuUsage();
  await Promise.all(settled);
  const used = process.cpuUsage(cpu);
  delay.disable();
  const inOrder = order.every((value, index) => value === index);
  console.log(
    `  ${CALLS} timeouts: max loop delay ${(delay.max / 1e6).toFixed(1)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, ` +
      `made in ${made.toFixed(0)} ms, first→last ${(last - first).toFixed(1)} ms, CPU ${((used.user + used.system) / 1000).toFixed(0)} ms, in order: ${inOrder}`,
  );
}

async function main(): Promise<void> {
  const hub = new Hub();
  await hub.register("never", () => new Promise(() => {}));
  console.log(`\n${CALLS} calls timing out together (timeout ${TIMEOUT_MS} ms), ${ROUNDS} rounds`);
  for (let i = 0; i < ROUNDS; i++) await round(hub);
  await hub.close();
}

await main();
