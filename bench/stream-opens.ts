/**
 * What opening a byte stream costs (issue 19), next to a plain call on the same session:
 *
 * - over Unix: a hub process, this process calling it; per operation the wall time and the CPU
 *   time of both processes, in rotated rounds (BENCH_ROUNDS=3), one at a time or `IN_FLIGHT=100`
 *   outstanding (one at a time, each operation is a full round trip and its wake-ups; in flight,
 *   the work per operation shows). A call, and a stream open with the client's end driven
 *   through its web streams or its port, the hub's through its web streams or its port.
 *   `MODE=call` or `MODE="stream open, web"` runs only those (names starting so), e.g. under
 *   `strace -f -c -e trace=sendmsg,recvmsg` to count syscalls per operation;
 * - in process (`IN_PROCESS=1`): web stream construction, `ByteStream.pair()`, a pair used
 *   through its web streams, and a stream open through `hub.call` with the handler echoing
 *   through web streams or through the ends' ports (no web streams at all).
 *
 *   npx tsx bench/stream-opens.ts                 (N=2000; BENCH_BUILT=1: the compiled dist/)
 *   IN_FLIGHT=100 N=20000 npx tsx bench/stream-opens.ts
 *   IN_PROCESS=1 npx tsx bench/stream-opens.ts
 *   BENCH_PROF=1 npx tsx bench/stream-opens.ts    (--cpu-prof of the hub process too)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type * as BeamhubModule from "../index.js";
import type { ByteStream as ByteStreamEnd } from "../index.js";
import { formatSpread, median, roundRatioSpread } from "./harness.js";

const { ByteStream, connectUnix, Hub, listenUnix } = (await import(
  process.env.BENCH_BUILT === "1" ? "../dist/index.js" : "../index.js"
)) as typeof BeamhubModule;
const N = Number(process.env.N ?? 2000);
/** Operations outstanding at once over Unix (1: one at a time, each a full round trip). */
const IN_FLIGHT = Number(process.env.IN_FLIGHT ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const body = new Uint8Array(64).fill(0x61);

/** Per-operation wall and CPU time of `operation`, after 10% warm-up. */
async function perOperation(name: string, operation: () => unknown): Promise<void> {
  for (let i = 0; i < N / 10; i++) await operation();
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  for (let i = 0; i < N; i++) await operation();
  const cpu = process.cpuUsage(cpuStart);
  const wall = (performance.now() - wallStart) * 1000;
  console.log(
    `  ${name.padEnd(52)} wall ${(wall / N).toFixed(1).padStart(7)} µs, CPU ${((cpu.user + cpu.system) / N).toFixed(1).padStart(7)} µs`,
  );
}

async function echoThroughWebStreams({ stream }: { stream: ByteStreamEnd }): Promise<void> {
  await stream.readable.pipeTo(stream.writable);
}

/** Echoes through the end's port: no web stream is ever made. */
function echoThroughPort({ stream }: { stream: ByteStreamEnd }): Promise<void> {
  return new Promise((resolve) => {
    const port = stream.openPort()!;
    port.start({
      data: (chunk) => void port.write(chunk),
      end: () => {
        port.end();
        resolve();
      },
      drain: () => undefined,
      reset: () => resolve(),
    });
  });
}

/** The caller's side of one stream open: send 64 B, end, read the echo to its end. */
async function openThroughWebStreams(call: (stream: ByteStreamEnd) => Promise<unknown>): Promise<void> {
  const [mine, theirs] = ByteStream.pair();
  const served = call(theirs);
  const writer = mine.writable.getWriter();
  void writer.write(body);
  void writer.close();
  for await (const _chunk of mine.readable) {
    // drain the echo
  }
  await served;
}

async function inProcess(): Promise<void> {
  console.log(`in process, ${N} operations each${process.env.BENCH_BUILT === "1" ? " (dist/)" : ""}`);
  await perOperation("new ReadableStream() + new WritableStream()", () => {
    new ReadableStream();
    new WritableStream();
  });
  await perOperation("ByteStream.pair()", () => ByteStream.pair());
  await perOperation("pair: write + close one end, read the other", async () => {
    const [a, b] = ByteStream.pair();
    const writer = a.writable.getWriter();
    void writer.write(body);
    void writer.close();
    for await (const _chunk of b.readable) {
      // drain
    }
  });
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  await hub.register("stream.echo", echoThroughWebStreams);
  await hub.register("port.echo", echoThroughPort);
  await perOperation("hub.call (sync echo)", () => hub.call("echo", body));
  await perOperation("stream open, web streams at both ends", () =>
    openThroughWebStreams((stream) => hub.call("stream.echo", { stream })),
  );
  await perOperation("stream open, ports at both ends", async () => {
    const [mine, theirs] = ByteStream.pair();
    const served = hub.call("port.echo", { stream: theirs });
    const port = mine.openPort()!;
    const ended = new Promise<void>((resolve) =>
      port.start({ data: () => undefined, end: resolve, drain: () => undefined, reset: () => resolve() }),
    );
    port.write(body);
    port.end();
    await ended;
    await served;
  });
  await hub.close();
}

async function serveHub(path: string): Promise<void> {
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  await hub.register("stream.echo", echoThroughWebStreams);
  await hub.register("port.echo", echoThroughPort);
  const listener = await listenUnix(hub, path, {
    limits: { maxStreams: 1000, maxPendingRequests: 1000 },
  });
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) if (line === "quit") break;
  await listener.close();
  await hub.close();
  process.exit(0); // the profile (BENCH_PROF=1) is written at exit
}

/** A process's CPU time (user + system) in µs, from /proc (clock ticks of 10 ms). */
function processCpu(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

/** The caller's side of a stream open through its end's port: no web stream at the client. */
async function openThroughPort(call: (stream: ByteStreamEnd) => Promise<unknown>): Promise<void> {
  const [mine, theirs] = ByteStream.pair();
  const served = call(theirs);
  const port = mine.openPort()!;
  const ended = new Promise<void>((resolve, reject) =>
    port.start({ data: () => undefined, end: resolve, drain: () => undefined, reset: reject }),
  );
  port.write(body);
  port.end();
  await ended;
  await served;
}

async function overUnix(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-stream-opens-"));
  const path = join(dir, "hub.sock");
  const profile = process.env.BENCH_PROF === "1" ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [];
  const child = spawn(
    process.execPath,
    [...profile, "--import", "tsx", fileURLToPath(import.meta.url), "hub", path],
    { stdio: ["pipe", "pipe", "inherit"], env: process.env },
  );
  try {
    await new Promise((resolve, reject) => {
      child.stdout.once("data", resolve);
      child.once("exit", () => reject(new Error("the hub process ended before it was ready")));
    });
    const client = await connectUnix(path, { reconnect: false });
    const modes: [string, () => Promise<unknown>][] = [
      ["call", () => client.call("echo", body)],
      [
        "stream open, web streams at both ends",
        () => openThroughWebStreams((stream) => client.call("stream.echo", { stream })),
      ],
      [
        "stream open, port at the client, web streams at the hub",
        () => openThroughPort((stream) => client.call("stream.echo", { stream })),
      ],
      [
        "stream open, ports at both ends",
        () => openThroughPort((stream) => client.call("port.echo", { stream })),
      ],
    ];
    const chosen = modes.filter(
      ([name]) => process.env.MODE === undefined || name.startsWith(process.env.MODE),
    );
    console.log(
      `over Unix through a hub process, ${IN_FLIGHT} in flight, ${N} each, ${ROUNDS} rotated rounds; ` +
        `CPU per operation of this process and of the hub process (medians), load ${loadavg()[0]!.toFixed(1)}`,
    );
    const samples = new Map(
      chosen.map(([name]) => [name, { client: [] as number[], hub: [] as number[], wall: [] as number[] }]),
    );
    for (const [, operation] of chosen) await inFlight(N / 10, operation); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (let index = 0; index < chosen.length; index++) {
        const [name, operation] = chosen[(index + round) % chosen.length]!;
        const wallStart = performance.now();
        const cpuStart = process.cpuUsage();
        const hubStart = processCpu(child.pid!);
        await inFlight(N, operation);
        const cpu = process.cpuUsage(cpuStart);
        const sample = samples.get(name)!;
        sample.wall.push(((performance.now() - wallStart) * 1000) / N);
        sample.client.push((cpu.user + cpu.system) / N);
        sample.hub.push((processCpu(child.pid!) - hubStart) / N);
      }
    }
    const call = samples.get("call");
    for (const [name] of chosen) {
      const { client: c, hub: h, wall: w } = samples.get(name)!;
      const vsCall =
        call === undefined || name === "call"
          ? ""
          : `, client CPU ${formatSpread(roundRatioSpread(c, call.client))}× a call's`;
      console.log(
        `  ${name.padEnd(56)} wall ${median(w).toFixed(1).padStart(6)} µs, CPU client ${median(c).toFixed(1).padStart(6)} µs, hub ${median(h).toFixed(1).padStart(6)} µs${vsCall}`,
      );
    }
    await client.close();
    child.stdin.write("quit\n");
    await new Promise((resolve) => {
      child.once("exit", resolve);
      setTimeout(resolve, 10_000).unref(); // bounded: the finally kills it
    });
    if (profile.length > 0) console.log(`  hub profile in ${dir}`);
  } finally {
    child.kill();
    if (profile.length === 0) rmSync(dir, { recursive: true, force: true });
  }
}

/** `count` operations with at most IN_FLIGHT outstanding. */
async function inFlight(count: number, operation: () => Promise<unknown>): Promise<void> {
  let started = 0;
  const lane = async (): Promise<void> => {
    while (started < count) {
      started += 1;
      await operation();
    }
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, count) }, lane));
}

if (process.argv[2] === "hub") await serveHub(process.argv[3]!);
else if (process.env.IN_PROCESS === "1") await inProcess();
else await overUnix();
