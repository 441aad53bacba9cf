/**
 * 100 000 calls timing out together (issue 19): how long the event loop stalls while their
 * deadlines expire, plus the CPU spent, the spread from the first to the last timeout, and
 * whether they failed in the order they started.
 *
 * Stalls are measured two ways: `perf_hooks.monitorEventLoopDelay` (wall clock), and a
 * `setImmediate` loop that records each gap between two turns of the loop with the CPU time this
 * process used during it. On a shared VM the wall-clock figure includes time the process was not
 * scheduled at all (the same gaps show up before any call times out: see the "idle" line); the
 * CPU figure is the stall the code itself causes.
 *
 *   npx tsx bench/timeouts.ts            (BENCH_CALLS=100000, BENCH_ROUNDS=3, BENCH_TIMEOUT=3000)
 */
import { monitorEventLoopDelay } from "node:perf_hooks";
import { CallTimeoutError, Hub } from "../index.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT ?? 3000);

/** The longest gaps between two turns of the event loop while it runs: wall and CPU time. */
function gapMonitor(): { readonly turns: number; stop(): { wallMs: number; cpuMs: number } } {
  let turns = 0;
  let wallMs = 0;
  let cpuMs = 0;
  let lastWall = performance.now();
  let lastCpu = process.cpuUsage();
  let stopped = false;
  const turn = (): void => {
    const wall = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    wallMs = Math.max(wallMs, wall - lastWall);
    cpuMs = Math.max(cpuMs, (cpu.user + cpu.system) / 1000);
    lastWall = wall;
    lastCpu = process.cpuUsage();
    turns += 1;
    if (!stopped) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    get turns() {
      return turns;
    },
    stop: () => {
      stopped = true;
      return { wallMs, cpuMs };
    },
  };
}

const ms = (value: number): string => `${value.toFixed(1)} ms`;

async function round(hub: Hub): Promise<void> {
  const order: number[] = [];
  // How many timeouts each turn of the event loop saw: the work one turn does, free of noise.
  const perTurn = new Map<number, number>();
  const watching: { gaps?: ReturnType<typeof gapMonitor> } = {};
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
          const turn = watching.gaps?.turns ?? -1;
          perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
        },
      ),
    );
  }
  const made = performance.now() - started;
  if (made > TIMEOUT_MS - 400)
    throw new Error(`making the calls took ${made.toFixed(0)} ms: raise BENCH_TIMEOUT`);
  // The noise floor: the same measurement while nothing times out (after the calls were made).
  await new Promise((resolve) => setTimeout(resolve, 50));
  const idle = gapMonitor();
  await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS - 100 - made - 50));
  const idleGaps = idle.stop();
  // Watch the loop only around the expiry, not while the calls were being made.
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const gaps = (watching.gaps = gapMonitor());
  const cpu = process.cpuUsage();
  await Promise.all(settled);
  const used = process.cpuUsage(cpu);
  const expiryGaps = gaps.stop();
  delay.disable();
  const inOrder = order.every((value, index) => value === index);
  console.log(
    `  expiry: loop delay max ${ms(delay.max / 1e6)} (p99 ${ms(delay.percentile(99) / 1e6)}); ` +
      `longest gap ${ms(expiryGaps.wallMs)} wall, ${ms(expiryGaps.cpuMs)} CPU; ` +
      `most timeouts in one loop turn ${Math.max(...perTurn.values())} (${perTurn.size} turns); ` +
      `first→last ${ms(last - first)} (calls made in ${made.toFixed(0)} ms); CPU ${(used.user + used.system) / 1000} ms; in order: ${inOrder}\n` +
      `  idle:   longest gap ${ms(idleGaps.wallMs)} wall, ${ms(idleGaps.cpuMs)} CPU`,
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
