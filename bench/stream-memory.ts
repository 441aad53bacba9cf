// Memory per open, idle byte stream (issue 19): a hub process on a Unix socket and a client
// process (this one) that opens N byte streams through it — each a call to the hub's "hold"
// service carrying one end of a `ByteStream.pair()`, which the service keeps open and never
// touches — then nothing flows. Each side reports its `heapUsed` after `gc()` before and after,
// and the difference per stream. Also the heap of N bare `ByteStream.pair()`s in one process,
// the in-memory part every stream starts from.
//
//   node --expose-gc --import tsx bench/stream-memory.ts            (BENCH_STREAMS=10000)
//
// BENCH_BUILT=1 measures the compiled package (dist/, from `npm run build`) as users run it:
// under tsx every arrow function stored in a property or variable is wrapped in esbuild's
// `__name(fn, "name")` (tsx turns keepNames on), an `Object.defineProperty` that gives the
// function a property store of its own (~250 B each, 24 per stream at the client; issue 19).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type * as BeamhubModule from "../index.js";

type Beamhub = typeof BeamhubModule;

/** The package as users import it (BENCH_BUILT=1: the compiled dist/), or the sources. */
const entry = process.env.BENCH_BUILT === "1" ? "../dist/index.js" : "../index.js";
const STREAMS = Number(process.env.BENCH_STREAMS ?? 10_000);
const limits = { maxStreams: STREAMS + 16, maxPendingRequests: STREAMS + 16 };

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("run with node --expose-gc");
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().heapUsed;
}

const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

if (process.argv[2] === "hub") await serveHub(process.argv[3]!);
else await main();

/** The hub: holds every stream it is given; answers "heap" on stdin with its heap after gc. */
async function serveHub(path: string): Promise<void> {
  const { Hub, listenUnix } = (await import(entry)) as Beamhub;
  const hub = new Hub();
  const held: unknown[] = [];
  await hub.register("hold", (stream: unknown) => {
    held.push(stream);
    return held.length;
  });
  const listener = await listenUnix(hub, path, { limits });
  const lines = createInterface({ input: process.stdin });
  process.stdout.write("ready\n");
  for await (const line of lines) {
    if (line === "heap") process.stdout.write(`${heapAfterGc()}\n`);
    if (line === "quit") break;
  }
  await listener.close();
  await hub.close();
  process.exit(0);
}

async function main(): Promise<void> {
  const { ByteStream, connectUnix } = (await import(entry)) as Beamhub;

  // In one process: N bare pairs.
  const before = heapAfterGc();
  const pairs = Array.from({ length: STREAMS }, () => ByteStream.pair());
  const perPair = (heapAfterGc() - before) / STREAMS;
  console.log(`\n${STREAMS} idle byte streams`);
  console.log(`  ByteStream.pair(), in process:  ${kb(perPair)} per pair (both ends)`);
  for (const [a] of pairs) a.reset();
  pairs.length = 0;

  const dir = mkdtempSync(join(tmpdir(), "beamhub-stream-memory-"));
  const path = join(dir, "hub.sock");
  const child = spawn(
    process.execPath,
    ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "hub", path],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  const replies = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const ask = async (line: string): Promise<string> => {
    if (line !== "") child.stdin!.write(`${line}\n`);
    const reply = await replies.next();
    if (reply.done === true) throw new Error("the hub process ended");
    return reply.value;
  };
  try {
    await ask("");
    const client = await connectUnix(path, { limits, reconnect: false });
    await client.call("hold", null); // warm up the session
    // The same number of calls carrying no stream: what the calls alone leave behind.
    const callsBefore = heapAfterGc();
    for (let i = 0; i < STREAMS; i++) await client.call("hold", null);
    const perCall = (heapAfterGc() - callsBefore) / STREAMS;
    const hubBefore = Number(await ask("heap"));
    const clientBefore = heapAfterGc();
    const mine = [];
    for (let i = 0; i < STREAMS; i++) {
      const [end, theirs] = ByteStream.pair();
      mine.push(end);
      await client.call("hold", theirs);
    }
    const hubAfter = Number(await ask("heap"));
    const clientAfter = heapAfterGc();
    console.log(
      `  through a hub over Unix, at the hub:     ${kb((hubAfter - hubBefore) / STREAMS)} per stream`,
    );
    console.log(
      `  through a hub over Unix, at the client:  ${kb((clientAfter - clientBefore) / STREAMS)} per stream`,
    );
    console.log(`  (a call carrying no stream leaves ${kb(perCall)} at the client)`);
    for (const end of mine) end.reset();
    await client.close();
    await ask("quit").catch(() => undefined);
  } finally {
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}
