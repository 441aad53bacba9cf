/**
 * The measuring loop of bench/many-sessions*.ts: hub processes, client processes holding the
 * sessions, and rounds that run each session count back to back (the order alternating by
 * round), so the machine's drift hits every count alike; ratios are medians of per-round ratios.
 * @module
 */
import { loadavg } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { bundleForNode } from "../../test/helpers/programs.js";
import { forkChild, type Child } from "../cluster/child.js";
import { median } from "../harness.js";

/** Sends `request` to `child` and returns its answer, throwing what it reports as an error. */
export async function ask<Answer>(child: Child, request: unknown, timeoutMs = 120_000): Promise<Answer> {
  const reply = await child.request<{ answer?: Answer; error?: string }>(request, timeoutMs);
  if (reply.error !== undefined) throw new Error(reply.error);
  return reply.answer as Answer;
}

const run = promisify(execFile);
const BUNDLES = join(import.meta.dirname, "..", "..", "build", "bench", "many-sessions");

/** Builds the hub and client programs into plain JavaScript bundles, as the tests' programs are built. */
export async function buildParts(): Promise<void> {
  await bundleForNode(
    { hub: join(import.meta.dirname, "hub.ts"), clients: join(import.meta.dirname, "clients.ts") },
    BUNDLES,
  );
}

/**
 * Forks a hub or a client process of this bench from its bundle ({@link buildParts} first).
 * BENCH_HUB_FLAGS adds node flags to the hubs (such as `--max-semi-space-size=32`).
 */
export function forkPart(part: "hub" | "clients"): Child {
  const hubFlags = ["--expose-gc", ...(process.env.BENCH_HUB_FLAGS ?? "").split(" ").filter(Boolean)];
  return forkChild(join(BUNDLES, `${part}.mjs`), part === "hub" ? hubFlags : [], { tsx: false });
}

/** A client process and what it does: which hub socket it connects to, which service it calls. */
export interface ClientPlan {
  child: Child;
  path: string;
  service: string;
}

/** One count's figures in one round. */
export interface Figures {
  callsPerSecond: number;
  /** Hub CPU (user + system, all hubs) per call answered, µs. */
  cpuPerCall: number;
  /** Hub GC pauses per call, µs (all hubs). */
  gcPerCall: number;
  /** Hub system calls per call (all hubs; perf stat, with BENCH_SYSCALLS=1; else NaN). */
  syscallsPerCall: number;
  /** Client-side latency: the median of the client processes' p50s, the highest of their p99s, µs. */
  p50: number;
  p99: number;
  /** Event-loop delay at the hubs over the window (the worst hub): p99 and max, ms. */
  lagP99: number;
  lagMax: number;
  /** Idle sessions' memory at the hubs (all hubs' growth ÷ sessions), bytes per session. */
  rssPerSession: number;
  heapPerSession: number;
  /** Extra per-second rates the caller measures over the window (NATS messages, ...). */
  extra: Record<string, number>;
}

interface Taken {
  calls: number;
  p50: number;
  p99: number;
  failed: number;
  firstFailure?: string;
}

interface Sample {
  cpuMicros: number;
  calls: number;
  gcMs: number;
  lagP99: number;
  lagMax: number;
}

export interface RoundsOptions {
  hubs: Child[];
  clients: ClientPlan[];
  counts: number[];
  rounds: number;
  seconds: number;
  /** With these hub pids, system calls at the hubs are counted over the window (perf stat). */
  syscallPids?: number[];
  /** Called at the start and the end of each window; returns counters whose rates get reported. */
  counters?: () => Promise<Record<string, number>>;
}

/** Splits `count` sessions over `parts` processes as evenly as whole numbers allow. */
function split(count: number, parts: number): number[] {
  return Array.from(
    { length: parts },
    (_, index) => Math.floor(count / parts) + (index < count % parts ? 1 : 0),
  );
}

/** Runs one count once: open, warm up, measure a window, stop, close. */
async function runCount(options: RoundsOptions, count: number): Promise<Figures> {
  const { hubs, clients } = options;
  const memory = () =>
    Promise.all(hubs.map((hub) => ask<{ rss: number; heap: number }>(hub, { op: "memory" })));
  const before = await memory();
  const shares = split(count, clients.length);
  await Promise.all(
    clients.map((client, index) =>
      ask(client.child, { op: "open", path: client.path, count: shares[index] }, 300_000),
    ),
  );
  const after = await memory();
  const growth = (key: "rss" | "heap") =>
    after.reduce((sum, hub, index) => sum + hub[key] - before[index]![key], 0) / count;
  await Promise.all(clients.map((client) => ask(client.child, { op: "run", service: client.service })));
  await new Promise((resolve) => setTimeout(resolve, 1000)); // warm-up
  const sample = () => Promise.all(hubs.map((hub) => ask<Sample>(hub, { op: "sample" })));
  const [start, startCounters] = await Promise.all([
    sample(),
    options.counters?.() ?? Promise.resolve({}),
    Promise.all(clients.map((client) => ask(client.child, { op: "mark" }))),
  ]);
  const started = performance.now();
  const syscalls =
    options.syscallPids === undefined ? undefined : countSyscalls(options.syscallPids, options.seconds);
  await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
  const [end, endCounters, taken] = await Promise.all([
    sample(),
    options.counters?.() ?? Promise.resolve({}),
    Promise.all(clients.map((client) => ask<Taken>(client.child, { op: "take" }))),
  ]);
  const seconds = (performance.now() - started) / 1000;
  const failed = taken.reduce((sum, client) => sum + client.failed, 0);
  if (failed > 0)
    console.log(
      `  (${failed} of ${count} sessions' calls failed, their lanes stopped: ${taken.find((client) => client.failed > 0)?.firstFailure})`,
    );
  await Promise.all(clients.map((client) => ask(client.child, { op: "halt" })));
  await Promise.all(clients.map((client) => ask(client.child, { op: "close" })));
  const calls = end.reduce((sum, hub, index) => sum + hub.calls - start[index]!.calls, 0);
  const cpu = end.reduce((sum, hub, index) => sum + hub.cpuMicros - start[index]!.cpuMicros, 0);
  const gc = end.reduce((sum, hub, index) => sum + hub.gcMs - start[index]!.gcMs, 0);
  const extra: Record<string, number> = {};
  const first = startCounters as Record<string, number>;
  for (const [key, value] of Object.entries(endCounters as Record<string, number>))
    extra[key] = (value - first[key]!) / seconds;
  return {
    callsPerSecond: calls / seconds,
    cpuPerCall: cpu / calls,
    gcPerCall: (gc * 1000) / calls,
    syscallsPerCall: syscalls === undefined ? Number.NaN : (await syscalls) / calls,
    p50: median(taken.map((client) => client.p50)),
    p99: Math.max(...taken.map((client) => client.p99)),
    lagP99: Math.max(...end.map((hub) => hub.lagP99)),
    lagMax: Math.max(...end.map((hub) => hub.lagMax)),
    rssPerSession: growth("rss"),
    heapPerSession: growth("heap"),
    extra,
  };
}

/**
 * Counts the system calls of processes `pids` (all threads) for `seconds` with `perf stat`
 * (tracepoint raw_syscalls:sys_enter; needs perf and perf_event_paranoid ≤ 2).
 */
async function countSyscalls(pids: number[], seconds: number): Promise<number> {
  const { stderr } = await run(
    "perf",
    ["stat", "-x,", "-e", "raw_syscalls:sys_enter", "-p", pids.join(","), "--", "sleep", String(seconds)],
    { timeout: (seconds + 30) * 1000 },
  );
  const line = stderr.split("\n").find((one) => one.includes("raw_syscalls:sys_enter"));
  const count = Number(line?.split(",")[0]);
  if (!Number.isFinite(count)) throw new Error(`perf stat printed no count: ${stderr}`);
  return count;
}

const load = (): string =>
  loadavg()
    .map((value) => value.toFixed(1))
    .join(" ");

/**
 * Runs a warm-up round and then `rounds` rounds of every count (alternating their order), prints
 * each round and then the medians, and the median per-round ratio of each count's hub CPU per call
 * to the first count's (the issue's "flat" figure).
 */
export async function runRounds(options: RoundsOptions): Promise<Map<number, Figures[]>> {
  const results = new Map<number, Figures[]>(options.counts.map((count) => [count, []]));
  for (let round = 0; round <= options.rounds; round++) {
    const order = round % 2 === 0 ? options.counts : [...options.counts].reverse();
    for (const count of order) {
      const figures = await runCount(options, count);
      console.log(
        `  ${round === 0 ? "warm-up" : `round ${round}`}, load ${load()}: ${describe(count, figures)}`,
      );
      if (round > 0) results.get(count)!.push(figures);
    }
  }
  console.log(`medians of ${options.rounds} rounds (load ${load()}):`);
  const base = results.get(options.counts[0]!)!;
  for (const [count, figures] of results) {
    const pick = (key: keyof Omit<Figures, "extra">) => median(figures.map((one) => one[key]));
    const extra: Record<string, number> = {};
    for (const key of Object.keys(figures[0]?.extra ?? {}))
      extra[key] = median(figures.map((one) => one.extra[key]!));
    const ratios = figures.map((one, index) => one.cpuPerCall / base[index]!.cpuPerCall);
    console.log(
      `  ${describe(count, {
        callsPerSecond: pick("callsPerSecond"),
        cpuPerCall: pick("cpuPerCall"),
        gcPerCall: pick("gcPerCall"),
        syscallsPerCall: pick("syscallsPerCall"),
        p50: pick("p50"),
        p99: pick("p99"),
        lagP99: pick("lagP99"),
        lagMax: pick("lagMax"),
        rssPerSession: pick("rssPerSession"),
        heapPerSession: pick("heapPerSession"),
        extra,
      })}; hub CPU per call ÷ ${options.counts[0]} sessions' ${median(ratios).toFixed(2)}× ` +
        `(${Math.min(...ratios).toFixed(2)}–${Math.max(...ratios).toFixed(2)})`,
    );
  }
  return results;
}

function describe(count: number, figures: Figures): string {
  const extra = Object.entries(figures.extra)
    .map(([key, value]) => `, ${key} ${Math.round(value).toLocaleString("en-US")}/s`)
    .join("");
  return (
    `${String(count).padStart(5)} sessions: ${Math.round(figures.callsPerSecond).toLocaleString("en-US")} calls/s, ` +
    `hub CPU ${figures.cpuPerCall.toFixed(1)} µs/call (GC ${figures.gcPerCall.toFixed(1)})` +
    (Number.isNaN(figures.syscallsPerCall) ? "" : `, ${figures.syscallsPerCall.toFixed(2)} syscalls/call`) +
    `, p50 ${figures.p50.toFixed(0)} µs, p99 ${figures.p99.toFixed(0)} µs, ` +
    `hub loop delay p99 ${figures.lagP99.toFixed(1)} ms (max ${figures.lagMax.toFixed(1)}), ` +
    `idle session at the hub: RSS ${(figures.rssPerSession / 1024).toFixed(1)} KiB, heap+buffers ${(figures.heapPerSession / 1024).toFixed(1)} KiB` +
    extra
  );
}
