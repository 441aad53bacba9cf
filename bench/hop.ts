/**
 * The hub hop (issue 19): a call from this process through a hub process to a service in a third
 * process, 100 in flight, against the same service called over a direct channel — and, with
 * several hub trees, the hub of each tree A/B in the same run.
 *
 *   npx tsx bench/hop.ts                                   (this tree's hub)
 *   HOP_TREES=/tmp/ab/old,/tmp/ab/new npx tsx bench/hop.ts (one hub process per tree)
 *   HOP_PROFILE=/tmp/prof npx tsx bench/hop.ts             (hub processes write --cpu-prof there)
 *
 * Only the hub process runs each tree's code: the caller (this process) and the service process
 * run this tree's, so a difference between trees is the hub's. Each round runs every contender
 * once (rotated), `BENCH_COUNT` calls each; a contender's figures are its calls per second (wall
 * clock: the work spans three processes) and the hub process's CPU time per call (user + system,
 * from the hub itself), which a loaded machine disturbs far less than the rate. Ratios are medians
 * of the per-round ratios with their spread. The caller's and the service's CPU per call are printed
 * too: with three processes on two cores, the hop's rate over the direct channel's is bounded by
 * how the hub's CPU per call compares with theirs. Make trees with `git archive` (bench/README.md).
 * `BENCH_PIN=1` pins this process to core 0 and the hubs and the service to core 1.
 */
import { fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { acceptDirect, connectDirect, connectUnix, type HubClient } from "../index.js";
import type * as Beamhub from "../index.js";
import { formatSpread, median, roundRatioSpread } from "./harness.js";
import { pinTo } from "./unix-peers.js";

const COUNT = Number(process.env.BENCH_COUNT ?? 100_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 100);
const PIN = process.env.BENCH_PIN === "1";
const PROFILE = process.env.HOP_PROFILE;
const START_TIMEOUT_MS = 60_000;
/** HOP_PAYLOAD=object: a small record (what a service call usually carries) instead of 64 bytes. */
const OBJECT_PAYLOAD = process.env.HOP_PAYLOAD === "object";
const PAYLOAD: unknown = OBJECT_PAYLOAD
  ? {
      id: 12345,
      name: "order-77",
      items: [
        { sku: "a1", qty: 2 },
        { sku: "b2", qty: 1 },
      ],
      paid: true,
      total: 19.95,
    }
  : new Uint8Array(64).fill(0x61);
const HERE = fileURLToPath(import.meta.url);

/** A child process speaking over IPC: `ready` once, then answers `cpu` with its CPU µs. */
interface Child {
  readonly process: ChildProcess;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

async function startChild(args: string[], execArgv: string[] = []): Promise<Child> {
  const child = fork(HERE, args, { execArgv: ["--import", "tsx", ...execArgv], stdio: "inherit" });
  const [message] = (await once(child, "message", { signal: AbortSignal.timeout(START_TIMEOUT_MS) })) as [
    unknown,
  ];
  if (message !== "ready") throw new Error(`${args.join(" ")} said ${JSON.stringify(message)}`);
  return {
    process: child,
    async cpuMicros() {
      child.send("cpu");
      const [answer] = (await once(child, "message", { signal: AbortSignal.timeout(START_TIMEOUT_MS) })) as [
        number,
      ];
      return answer;
    },
    async stop() {
      const exited = once(child, "exit");
      child.send("exit");
      await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000).unref())]);
      child.kill("SIGKILL");
    },
  };
}

/** `count` calls with IN_FLIGHT outstanding. */
async function calls(count: number, call: () => Promise<unknown>): Promise<void> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < count) {
      started++;
      await call();
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
}

interface Contender {
  name: string;
  call: () => Promise<unknown>;
  /** The hub process the calls cross (none for the direct channel). */
  hub?: Child;
  rates: number[];
  hubMicrosPerCall: number[];
  /** CPU per call of the service process and of this process (the caller). */
  serviceMicrosPerCall: number[];
  callerMicrosPerCall: number[];
}

async function parent(): Promise<void> {
  const trees = (process.env.HOP_TREES ?? resolve(HERE, "../..")).split(",").filter((tree) => tree !== "");
  const dir = mkdtempSync(join(tmpdir(), "beamhub-hop-"));
  const children: Child[] = [];
  const clients: HubClient[] = [];
  try {
    const contenders: Contender[] = [];
    for (const [index, tree] of trees.entries()) {
      const socket = join(dir, `hub${index}.sock`);
      const profile = PROFILE === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`];
      const hub = await startChild(["hub", tree, socket], profile);
      children.push(hub);
      if (PIN) pinTo(hub.process.pid!, 1);
      const client = await connectUnix(socket);
      clients.push(client);
      contenders.push({
        name: `via hub ${basename(tree)}#${index}`,
        call: () => client.call("svc.echo", PAYLOAD),
        hub,
        rates: [],
        hubMicrosPerCall: [],
        serviceMicrosPerCall: [],
        callerMicrosPerCall: [],
      });
    }
    // One service process, registered in every hub (one session each).
    const service = await startChild(
      ["service", ...trees.map((_, index) => join(dir, `hub${index}.sock`))],
      PROFILE === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`],
    );
    children.push(service);
    if (PIN) {
      pinTo(service.process.pid!, 1);
      pinTo(process.pid, 0);
    }
    // For strace/perf from outside: `strace -c -f -p <pid>` while the rounds run.
    console.error(
      `hub pids ${contenders.map((c) => c.hub?.process.pid).join(",")}, service ${service.process.pid}`,
    );
    const directChannel = await connectDirect(clients[0]!, "svc.echo");
    contenders.push({
      name: "direct channel",
      call: () => directChannel.call(PAYLOAD),
      rates: [],
      hubMicrosPerCall: [],
      serviceMicrosPerCall: [],
      callerMicrosPerCall: [],
    });

    for (const contender of contenders) await calls(Math.max(1, COUNT / 5), contender.call); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(i + round) % contenders.length]!;
        const cpuBefore = await contender.hub?.cpuMicros();
        const serviceBefore = await service.cpuMicros();
        const callerBefore = process.cpuUsage();
        const started = performance.now();
        await calls(COUNT, contender.call);
        const seconds = (performance.now() - started) / 1000;
        const caller = process.cpuUsage(callerBefore);
        contender.callerMicrosPerCall.push((caller.user + caller.system) / COUNT);
        contender.serviceMicrosPerCall.push(((await service.cpuMicros()) - serviceBefore) / COUNT);
        contender.rates.push(COUNT / seconds);
        if (contender.hub !== undefined) {
          contender.hubMicrosPerCall.push(((await contender.hub.cpuMicros()) - cpuBefore!) / COUNT);
        }
      }
    }
    const { loadavg } = await import("node:os");
    console.log(
      `hop bench: ${ROUNDS} rounds x ${COUNT} calls, ${IN_FLIGHT} in flight, ${OBJECT_PAYLOAD ? "a 6-field record" : "64 B"}, node ${process.version}` +
        `${PIN ? ", pinned" : ""}, load ${loadavg()
          .map((load) => load.toFixed(1))
          .join(" ")}`,
    );
    const spread = (values: number[]): string =>
      `${median(values).toFixed(2)} (${Math.min(...values).toFixed(2)}–${Math.max(...values).toFixed(2)})`;
    for (const contender of contenders) {
      const hub =
        contender.hubMicrosPerCall.length === 0 ? "" : `, hub ${spread(contender.hubMicrosPerCall)}`;
      console.log(
        `  ${contender.name.padEnd(28)} ${Math.round(median(contender.rates)).toLocaleString("en")} calls/s; ` +
          `CPU µs/call: caller ${spread(contender.callerMicrosPerCall)}, service ${spread(contender.serviceMicrosPerCall)}${hub}`,
      );
    }
    const direct = contenders.at(-1)!;
    const directRates = direct.rates;
    console.log("ratios, medians of per-round ratios (lowest–highest):");
    for (const contender of contenders.slice(0, -1)) {
      console.log(
        `  ${contender.name} / direct: ${formatSpread(roundRatioSpread(contender.rates, directRates))}`,
      );
    }
    // The goal restated in CPU time: with every process busy on 2 cores, calls/s ≈ 2 cores ÷ the
    // CPU all processes spend per call, so the hop's rate over the direct channel's is about
    // (caller + service CPU, direct) ÷ (caller + hub + service CPU, via the hub). ≥ 0.5 is the
    // goal; with the ends costing what they cost direct, that is hub ≤ caller + service.
    const sum = (...series: number[][]): number[] =>
      series[0]!.map((_, round) => series.reduce((total, values) => total + values[round]!, 0));
    const directCpu = sum(direct.callerMicrosPerCall, direct.serviceMicrosPerCall);
    console.log("the goal in CPU time (direct CPU per call ÷ hop CPU per call, per round; goal ≥ 0.5):");
    for (const contender of contenders.slice(0, -1)) {
      const hopCpu = sum(
        contender.callerMicrosPerCall,
        contender.hubMicrosPerCall,
        contender.serviceMicrosPerCall,
      );
      console.log(
        `  ${contender.name}: ${formatSpread(roundRatioSpread(directCpu, hopCpu))}; ` +
          `hub ÷ (caller + service, direct) ${formatSpread(roundRatioSpread(contender.hubMicrosPerCall, directCpu))} (goal ≤ 1); ` +
          `service via hub ÷ direct ${formatSpread(roundRatioSpread(contender.serviceMicrosPerCall, direct.serviceMicrosPerCall))}`,
      );
    }
    const [first, ...others] = contenders.slice(0, -1);
    for (const other of others) {
      console.log(
        `  ${other.name} / ${first!.name}: rate ${formatSpread(roundRatioSpread(other.rates, first!.rates))}, ` +
          `hub CPU per call ${formatSpread(roundRatioSpread(other.hubMicrosPerCall, first!.hubMicrosPerCall))}`,
      );
    }
    await directChannel.close();
  } finally {
    for (const client of clients) await client.close().catch(() => undefined);
    for (const child of children.reverse()) await child.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Answers the parent's `cpu` and `exit` messages; says `ready` first. */
function serveParent(): void {
  process.on("message", (message) => {
    if (message === "cpu") {
      const usage = process.cpuUsage();
      process.send!(usage.user + usage.system);
    } else if (message === "exit") {
      process.exit(0); // a clean exit writes the --cpu-prof profile
    }
  });
  process.send!("ready");
}

/** A hub process of `tree` listening on `socket`. */
async function hubProcess(tree: string, socket: string): Promise<void> {
  const { Hub, listenUnix } = (await import(join(tree, "index.ts"))) as typeof Beamhub;
  const hub = new Hub();
  await listenUnix(hub, socket);
  serveParent();
}

/** The service: `svc.echo` registered in every hub (accepting direct channels too). */
async function serviceProcess(sockets: string[]): Promise<void> {
  for (const socket of sockets) {
    const hub = await connectUnix(socket);
    await hub.register(
      "svc.echo",
      acceptDirect((data: unknown) => data),
    );
  }
  serveParent();
}

if (process.argv[2] === "hub") await hubProcess(process.argv[3]!, process.argv[4]!);
else if (process.argv[2] === "service") await serviceProcess(process.argv.slice(3));
else await parent();
