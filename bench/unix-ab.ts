/**
 * A/B of beamhub's Unix call path (issue 19): a call with 100 in flight, 64 B, from this process
 * to a hub in a process of its own, for two (or more) trees in the same run, with the pipelined
 * minimal RPC of raw-rpc.ts (the floor of a call mechanism over a Unix socket in Node) alongside.
 * Each tree's hub runs in its own process, so a round measures that tree on both sides: its
 * client here and its hub there. Rounds are rotated; printed per contender are calls/s and the CPU
 * time per call (user + system) of the caller and of the answering process, and per tree the
 * medians of the per-round ratios with their spread: against the first tree (calls/s and CPU per
 * call) and against the raw RPC (CPU per call).
 *
 *   AB_TREES=/tmp/ab/base,/work/wt/x BENCH_BUILT=1 BENCH_PIN=1 npx tsx bench/unix-ab.ts
 *   AB_TREES=...        the trees (`git archive` + a node_modules link + native/build); the
 *                       default is this tree alone (then it only compares with the raw RPC)
 *   BENCH_BUILT=1       each tree's compiled dist/ (`npm run build`), not its sources under tsx
 *   BENCH_ROUNDS=9 BENCH_SECONDS=1 BENCH_IN_FLIGHT=100
 *   AB_NO_FLOOR=1       without the raw RPC (to profile this process with one tree alone)
 *   BENCH_PIN=1         this process on core 0, the answering processes on core 1 (taskset)
 *   BENCH_PROFILE=dir   the answering processes write CPU profiles there when they end (run this
 *                       process with `node --cpu-prof --cpu-prof-dir=dir --import tsx` for its own)
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type * as Beamhub from "../index.js";
import { formatSpread, processCpuMicros, rateFor, roundRatioSpread, spreadOf } from "./harness.js";
import { listenRawRpc, RawRpcClient } from "./raw-rpc.js";
import { pinTo } from "./unix-peers.js";

const HERE = fileURLToPath(import.meta.url);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 100);
const BUILT = process.env.BENCH_BUILT === "1";
const PIN = process.env.BENCH_PIN === "1";
const PROFILE = process.env.BENCH_PROFILE;
/** AB_NO_FLOOR=1: the trees only, without the raw RPC (e.g. to profile this process with one tree). */
const WITH_FLOOR = process.env.AB_NO_FLOOR !== "1";
const TREES = (process.env.AB_TREES ?? resolve(HERE, "../..")).split(",").filter((tree) => tree !== "");
/** How long a child may take to start (a loaded machine compiles with tsx). */
const START_TIMEOUT_MS = 60_000;

/** A tree's package entry: its compiled dist/ (BENCH_BUILT=1) or its sources. */
function entryOf(tree: string): string {
  const entry = BUILT ? join(tree, "dist/index.js") : join(tree, "index.ts");
  if (!existsSync(entry))
    throw new Error(`${entry} is missing${BUILT ? " (npm run build in that tree)" : ""}`);
  return entry;
}

/** Starts `node bench/unix-ab.ts <role> ...args`; resolves once it printed its first line. */
async function start(role: string, args: string[]): Promise<ChildProcess> {
  const profile = PROFILE === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`];
  const child = spawn(process.execPath, [...profile, "--import", "tsx", HERE, role, ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await once(child.stdout!, "data", { signal: AbortSignal.timeout(START_TIMEOUT_MS) });
  if (PIN) pinTo(child.pid!, 1);
  return child;
}

/** Ends a child; a profiled one exits on SIGTERM (which writes its profile). */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const ended = once(child, "exit");
  child.kill();
  await Promise.race([ended, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
  child.kill("SIGKILL");
}

interface Contender {
  name: string;
  call: () => Promise<unknown>;
  answering: number;
  rates: number[];
  /** CPU µs per call, per round. */
  caller: number[];
  server: number[];
  /** Calls in all measured windows. */
  calls: number;
}

async function parent(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-unix-ab-"));
  const children: ChildProcess[] = [];
  const closers: (() => unknown)[] = [];
  try {
    if (PIN) pinTo(process.pid, 0);
    const payload = new Uint8Array(64).fill(0x61);
    const contenders: Contender[] = [];
    if (WITH_FLOOR) {
      const raw = await start("raw", [join(dir, "raw-rpc.sock")]);
      children.push(raw);
      const rawClient = await RawRpcClient.connect(join(dir, "raw-rpc.sock"));
      closers.push(() => rawClient.close());
      contenders.push(contender("raw RPC", () => rawClient.call("echo", payload), raw.pid!));
    }
    for (const [index, tree] of TREES.entries()) {
      const entry = entryOf(tree);
      const socket = join(dir, `hub-${index}.sock`);
      const hub = await start("hub", [entry, socket]);
      children.push(hub);
      const { connectUnix } = (await import(entry)) as typeof Beamhub;
      const client = await connectUnix(socket);
      closers.push(() => client.close());
      const name = `${basename(tree)}${TREES.length > 1 ? ` #${index}` : ""}`;
      contenders.push(contender(name, () => client.call("echo", payload), hub.pid!));
    }
    // For perf/strace from outside while the rounds run (e.g. `perf stat -e raw_syscalls:sys_enter -p`).
    console.error(`answering pids: ${contenders.map((c) => `${c.name} ${c.answering}`).join(", ")}`);
    console.log(
      `unix A/B: ${ROUNDS} rounds x ${SECONDS} s, ${IN_FLIGHT} in flight, 64 B, ${BUILT ? "dist/" : "sources"}, ` +
        `node ${process.version}${PIN ? ", pinned" : ""}, load ${load()}`,
    );
    for (const { call } of contenders) await rateFor(0.2, IN_FLIGHT, call); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const measured = contenders[(i + round) % contenders.length]!;
        let callerBefore = 0;
        let serverBefore = 0;
        measured.rates.push(
          await rateFor(SECONDS, IN_FLIGHT, measured.call, {
            start() {
              callerBefore = processCpuMicros(process.pid);
              serverBefore = processCpuMicros(measured.answering);
            },
            end(calls) {
              measured.calls += calls;
              measured.caller.push((processCpuMicros(process.pid) - callerBefore) / calls);
              measured.server.push((processCpuMicros(measured.answering) - serverBefore) / calls);
            },
          }),
        );
      }
    }
    const shown = (values: number[]): string => formatSpread(spreadOf(values));
    const total = (c: Contender): number[] => c.caller.map((caller, round) => caller + c.server[round]!);
    for (const c of contenders) {
      console.log(
        `  ${c.name.padEnd(16)} ${Math.round(spreadOf(c.rates).median).toLocaleString("en").padStart(9)} calls/s; ` +
          `CPU µs/call: caller ${shown(c.caller)}, server ${shown(c.server)}, total ${shown(total(c))}; ` +
          `${Math.round(c.calls).toLocaleString("en")} calls measured`,
      );
    }
    const floor = WITH_FLOOR ? contenders[0] : undefined;
    const [first, ...others] = WITH_FLOOR ? contenders.slice(1) : contenders;
    console.log("medians of per-round ratios (lowest–highest):");
    for (const c of floor === undefined ? [] : contenders.slice(1)) {
      console.log(
        `  ${c.name} / raw RPC: calls/s ${formatSpread(roundRatioSpread(c.rates, floor!.rates))}, ` +
          `CPU per call ${formatSpread(roundRatioSpread(total(c), total(floor!)))}`,
      );
    }
    for (const c of others) {
      console.log(
        `  ${c.name} / ${first!.name}: calls/s ${formatSpread(roundRatioSpread(c.rates, first!.rates))}, ` +
          `CPU per call ${formatSpread(roundRatioSpread(total(c), total(first!)))} ` +
          `(caller ${formatSpread(roundRatioSpread(c.caller, first!.caller))}, ` +
          `server ${formatSpread(roundRatioSpread(c.server, first!.server))})`,
      );
    }
    console.log(`load at the end ${load()}`);
  } finally {
    for (const close of closers) await close();
    await Promise.all(children.map(stop));
    rmSync(dir, { recursive: true, force: true });
  }
}

function contender(name: string, call: () => Promise<unknown>, answering: number): Contender {
  return { name, call, answering, rates: [], caller: [], server: [], calls: 0 };
}

function load(): string {
  return loadavg()
    .map((value) => value.toFixed(2))
    .join(" ");
}

/** Child: a hub of the tree whose entry is `entry`, with a synchronous echo, on `socket`. */
async function hub(entry: string, socket: string): Promise<void> {
  const { Hub, listenUnix } = (await import(entry)) as typeof Beamhub;
  const served = new Hub();
  await served.register("echo", (data: unknown) => data);
  await listenUnix(served, socket);
  process.stdout.write("ready\n");
}

/** Child: the raw RPC's server with an echo handler. */
function raw(socket: string): void {
  listenRawRpc(socket, new Map([["echo", (payload: Buffer) => payload]])).once("listening", () =>
    process.stdout.write("ready\n"),
  );
}

// A profiled process writes its CPU profile on a normal exit, not when a signal ends it.
if (PROFILE !== undefined) process.once("SIGTERM", () => process.exit(0));
if (process.argv[2] === "hub") await hub(process.argv[3]!, process.argv[4]!);
else if (process.argv[2] === "raw") raw(process.argv[3]!);
else await parent();
