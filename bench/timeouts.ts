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
 * The distribution of those gaps (p50/p99/max) is printed for two windows of the same round and
 * the same heap: "idle", while the 100 000 calls wait and nothing expires, and "expiry". The GC
 * pauses of each window (`PerformanceObserver` "gc" entries) are printed alongside, and every gap
 * also less the GC pauses that began inside it, which tells a stall of the expiry code from one
 * of the collector.
 *
 *   npx tsx bench/timeouts.ts            (BENCH_CALLS=100000, BENCH_ROUNDS=3, BENCH_TIMEOUT=3000)
 */
import {
  constants,
  createHistogram,
  monitorEventLoopDelay,
  PerformanceObserver,
  type PerformanceEntry,
  type RecordableHistogram,
} from "node:perf_hooks";
import { CallTimeoutError, Hub } from "../index.js";

const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TIMEOUT_MS = Number(process.env.BENCH_TIMEOUT ?? 3000);

/** The GC pauses of the whole run, as the runtime reports them. */
const gcPauses: PerformanceEntry[] = [];
const gcObserver = new PerformanceObserver((list) => gcPauses.push(...list.getEntries()));
gcObserver.observe({ entryTypes: ["gc"] });

/** A gap between two turns of the event loop of at least LONG_GAP_MS: when (performance.now), its CPU. */
interface Gap {
  start: number;
  end: number;
  cpuMs: number;
}
const LONG_GAP_MS = 1;

/** The gaps between two turns of the event loop while it runs: all in histograms (µs), long ones kept. */
interface Gaps {
  wall: RecordableHistogram;
  cpu: RecordableHistogram;
  long: Gap[];
  start: number;
  end: number;
}

/**
 * Records every gap between two turns of the event loop, wall and CPU time, into histograms
 * (no allocation per turn beyond `cpuUsage`'s: a monitor that made garbage would cause the GC
 * pauses it measures), and keeps the gaps of at least LONG_GAP_MS to set against the GC pauses.
 */
function gapMonitor(): { readonly turns: number; stop(): Gaps } {
  const gaps: Gaps = {
    wall: createHistogram(),
    cpu: createHistogram(),
    long: [],
    start: performance.now(),
    end: 0,
  };
  let turns = 0;
  let lastWall = gaps.start;
  let lastCpu = process.cpuUsage();
  let stopped = false;
  const turn = (): void => {
    const wall = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const cpuMs = (cpu.user + cpu.system) / 1000;
    gaps.wall.record(Math.max(1, Math.round((wall - lastWall) * 1000)));
    gaps.cpu.record(Math.max(1, Math.round(cpuMs * 1000)));
    if (wall - lastWall >= LONG_GAP_MS) gaps.long.push({ start: lastWall, end: wall, cpuMs });
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
      gaps.end = performance.now();
      return gaps;
    },
  };
}

const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: "scavenge",
  [constants.NODE_PERFORMANCE_GC_MAJOR]: "mark-compact",
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: "incremental",
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: "weak callbacks",
};

/** The GC pauses that began in [from, to). */
function pausesIn(from: number, to: number): PerformanceEntry[] {
  return gcPauses.filter((entry) => entry.startTime >= from && entry.startTime < to);
}

/** p50 / p99 / max of the gaps' wall and CPU time; the longest gap less the GC pauses in it; the GC. */
function describeGaps(gaps: Gaps): string {
  const spread = (histogram: RecordableHistogram): string =>
    `${(histogram.percentile(50) / 1000).toFixed(3)} / ${(histogram.percentile(99) / 1000).toFixed(2)} / ${ms(histogram.max / 1000)}`;
  let lessGc = 0;
  let withGc = 0;
  // The code's own stall: the longest CPU time of a gap with no GC pause in it, and of any gap
  // less its pauses (a scavenge runs on this thread, so its pause is CPU time of the gap).
  let cpuWithoutGc = 0;
  let cpuLessGc = 0;
  for (const gap of gaps.long) {
    const gc = pausesIn(gap.start, gap.end).reduce((sum, entry) => sum + entry.duration, 0);
    if (gc > 0) withGc += 1;
    else cpuWithoutGc = Math.max(cpuWithoutGc, gap.cpuMs);
    lessGc = Math.max(lessGc, gap.end - gap.start - gc);
    cpuLessGc = Math.max(cpuLessGc, gap.cpuMs - gc);
  }
  const kinds = new Map<string, { count: number; total: number; max: number }>();
  for (const entry of pausesIn(gaps.start, gaps.end)) {
    const kind = GC_KINDS[(entry as { detail?: { kind?: number } }).detail?.kind ?? -1] ?? "other";
    const row = kinds.get(kind) ?? { count: 0, total: 0, max: 0 };
    row.count += 1;
    row.total += entry.duration;
    row.max = Math.max(row.max, entry.duration);
    kinds.set(kind, row);
  }
  const gc = [...kinds].map(([kind, row]) => `${row.count} ${kind} (${ms(row.total)}, max ${ms(row.max)})`);
  return (
    `${gaps.wall.count} gaps, p50 / p99 / max: wall ${spread(gaps.wall)}, CPU ${spread(gaps.cpu)}; ` +
    `${gaps.long.length} ≥ ${LONG_GAP_MS} ms (${withGc} with GC), the longest less its GC ${ms(lessGc)}; ` +
    `CPU of the longest gap without GC ${ms(cpuWithoutGc)}, of any gap less its GC ${ms(cpuLessGc)}\n` +
    `            GC: ${gc.length === 0 ? "none" : gc.join(", ")}`
  );
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
  const idleWindow = idleGaps.end - idleGaps.start;
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
      `most timeouts in one loop turn ${Math.max(...perTurn.values())} (${perTurn.size} turns); ` +
      `first→last ${ms(last - first)} (calls made in ${made.toFixed(0)} ms); CPU ${(used.user + used.system) / 1000} ms; in order: ${inOrder}\n` +
      `    gaps:   ${describeGaps(expiryGaps)}\n` +
      `  idle (${ms(idleWindow)}, the same calls pending, nothing expiring):\n` +
      `    gaps:   ${describeGaps(idleGaps)}`,
  );
}

async function main(): Promise<void> {
  const hub = new Hub();
  await hub.register("never", () => new Promise(() => {}));
  console.log(`\n${CALLS} calls timing out together (timeout ${TIMEOUT_MS} ms), ${ROUNDS} rounds`);
  for (let i = 0; i < ROUNDS; i++) await round(hub);
  await hub.close();
  gcObserver.disconnect();
}

await main();
