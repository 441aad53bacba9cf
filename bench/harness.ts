/**
 * A small measuring harness: runs several contenders in the same process and the same run,
 * interleaved round by round so that machine noise hits all of them alike, and reports medians
 * and ratios. Absolute numbers on shared 2-core machines are noise; ratios are the result.
 */
import { readFileSync } from "node:fs";

export interface Contender {
  name: string;
  /** Performs `count` operations; resolves when all are done. */
  run(count: number): Promise<void>;
}

export interface Result {
  name: string;
  /** Median operations per second over the rounds. */
  opsPerSecond: number;
  samples: number[];
}

/** The median of `values`. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * The median of the per-round ratios `over[i] / under[i]`. Rounds run their scenarios back to
 * back, so pairing them cancels the machine's drift between rounds (a shared 2-core VM drifts by
 * tens of percent), which a ratio of two medians does not.
 */
export function roundRatio(over: number[], under: number[]): number {
  return median(over.map((value, round) => value / under[round]!));
}

/** The per-round ratios `over[i] / under[i]`: their median and their spread (lowest, highest). */
export function roundRatioSpread(
  over: number[],
  under: number[],
): { median: number; low: number; high: number } {
  return spreadOf(over.map((value, round) => value / under[round]!));
}

/** The median of `values` and their spread (lowest, highest). */
export function spreadOf(values: number[]): { median: number; low: number; high: number } {
  return { median: median(values), low: Math.min(...values), high: Math.max(...values) };
}

/** A ratio as `median (low–high)`. */
export function formatSpread(ratio: { median: number; low: number; high: number }, digits = 2): string {
  return `${ratio.median.toFixed(digits)} (${ratio.low.toFixed(digits)}–${ratio.high.toFixed(digits)})`;
}

/**
 * What a round's duration is read from. `wall`: elapsed time (what a caller waits; right when
 * the work spans processes). `cpu`: this process's CPU time (user + system). For work inside one
 * process, CPU time leaves out the time other processes of a loaded machine took the core away:
 * with ~15 runnable processes on 2 cores the wall-clock per-round ratios spread 0.2–17×, the CPU
 * ones 0.85–1.25× (issue 19).
 */
export type Clock = "wall" | "cpu";

function clockNow(clock: Clock): number {
  if (clock === "wall") return performance.now() / 1000;
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}

/**
 * Runs every contender `rounds` times, `count` operations each, after a warm-up round. Each
 * round starts at the next contender (a rotation), so none always runs right after the same one.
 */
export async function measure(
  contenders: Contender[],
  count: number,
  rounds = 5,
  clock: Clock = "wall",
): Promise<Result[]> {
  for (const contender of contenders) await contender.run(Math.max(1, Math.floor(count / 5)));
  const samples = new Map<string, number[]>(contenders.map((contender) => [contender.name, []]));
  for (let round = 0; round < rounds; round++) {
    for (let index = 0; index < contenders.length; index++) {
      const contender = contenders[(index + round) % contenders.length]!;
      const started = clockNow(clock);
      await contender.run(count);
      const seconds = clockNow(clock) - started;
      samples.get(contender.name)!.push(count / seconds);
    }
  }
  return contenders.map((contender) => {
    const values = samples.get(contender.name)!;
    return { name: contender.name, opsPerSecond: median(values), samples: values };
  });
}

/** Formats results as a table with each rate relative to `baseline`. */
export function report(title: string, results: Result[], baseline: string, unit = "ops/s"): string {
  const base = results.find((result) => result.name === baseline)?.opsPerSecond ?? 1;
  const lines = [`\n${title}`, `  ${"contender".padEnd(44)} ${unit.padStart(14)}  vs ${baseline}`];
  for (const result of results) {
    const rate = Math.round(result.opsPerSecond).toLocaleString("en-US");
    lines.push(
      `  ${result.name.padEnd(44)} ${rate.padStart(14)}  ${(result.opsPerSecond / base).toFixed(2)}×`,
    );
  }
  return lines.join("\n");
}

/** Runs `count` operations with at most `inFlight` outstanding at a time. */
export async function pipelined(
  count: number,
  inFlight: number,
  operation: () => Promise<unknown>,
): Promise<void> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      await operation();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, lane));
}

/** Told when a measured window starts and when it ends (with the operations it counted). */
export interface MeasuredWindow {
  start(): void;
  end(operations: number): void;
}

/**
 * Operations per second of `operation` with `inFlight` outstanding, measured for `seconds`
 * after a 200 ms warm-up (for time-based rounds, where counts per round vary). `window` is told
 * when the measured part starts and ends (to read CPU time over exactly that part).
 */
export async function rateFor(
  seconds: number,
  inFlight: number,
  operation: () => Promise<unknown>,
  window?: MeasuredWindow,
): Promise<number> {
  let measuring = false;
  let done = 0;
  let stopAt = performance.now() + 200; // warm-up
  const lane = async (): Promise<void> => {
    while (performance.now() < stopAt) {
      await operation();
      if (measuring) done++;
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  measuring = true;
  window?.start();
  const started = performance.now();
  stopAt = started + seconds * 1000;
  await Promise.all(Array.from({ length: inFlight }, lane));
  const rate = done / ((performance.now() - started) / 1000);
  window?.end(done);
  return rate;
}

/**
 * CPU time (user + system, µs) process `pid` used so far: this process's from
 * `process.cpuUsage`, another's from Linux /proc (clock ticks of 10 ms: measure for seconds).
 */
export function processCpuMicros(pid: number): number {
  if (pid === process.pid) {
    const { user, system } = process.cpuUsage();
    return user + system;
  }
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after "pid (comm) ".
  return (Number(fields[11]) + Number(fields[12])) * (1e6 / CLOCK_TICKS_PER_SECOND);
}

/** Linux's USER_HZ: /proc reports CPU time in these ticks (100 on every mainstream build). */
const CLOCK_TICKS_PER_SECOND = 100;
