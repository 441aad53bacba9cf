/**
 * What opening a byte stream costs (issue 19), next to a plain call on the same session:
 *
 * - over Unix: a hub process, this process calling it; per operation the wall time and this
 *   process's CPU time, one at a time (`MODE=call` or `MODE="stream open"` runs one of them, e.g.
 *   under `strace -f -c -e trace=sendmsg,recvmsg` to count syscalls per operation);
 * - in process (`IN_PROCESS=1`): web stream construction, `ByteStream.pair()`, a pair used
 *   through its web streams, and a stream open through `hub.call` with the handler echoing
 *   through web streams or through the ends' ports (no web streams at all).
 *
 *   npx tsx bench/stream-opens.ts                 (N=2000; BENCH_BUILT=1: the compiled dist/)
 *   IN_PROCESS=1 npx tsx bench/stream-opens.ts
 *   BENCH_PROF=1 npx tsx bench/stream-opens.ts    (--cpu-prof of the hub process too)
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type * as BeamhubModule from "../index.js";
import type { ByteStream as ByteStreamEnd } from "../index.js";

const { ByteStream, connectUnix, Hub, listenUnix } = (await import(
  process.env.BENCH_BUILT === "1" ? "../dist/index.js" : "../index.js"
)) as typeof BeamhubModule;
const N = Number(process.env.N ?? 2000);
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
  const listener = await listenUnix(hub, path, { limits: { maxStreams: 1000 } });
  process.stdout.write("ready\n");
  for await (const line of createInterface({ input: process.stdin })) if (line === "quit") break;
  await listener.close();
  await hub.close();
  process.exit(0); // the profile (BENCH_PROF=1) is written at exit
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
    console.log(`over Unix through a hub process, one at a time, ${N} each (CPU: this process)`);
    const modes: [string, () => Promise<unknown>][] = [
      ["call", () => client.call("echo", body)],
      ["stream open", () => openThroughWebStreams((stream) => client.call("stream.echo", { stream }))],
    ];
    for (let round = 0; round < 2; round++) {
      for (const [name, operation] of modes) {
        if (process.env.MODE === undefined || process.env.MODE === name) await perOperation(name, operation);
      }
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

if (process.argv[2] === "hub") await serveHub(process.argv[3]!);
else if (process.env.IN_PROCESS === "1") await inProcess();
else await overUnix();
