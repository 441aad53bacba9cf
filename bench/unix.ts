// The Unix transport against a raw Unix socket (plain node:net), between two processes, in one
// run: request/response with 1 and 100 in flight (64 B), bulk bytes, and fd-carrying messages
// per second — for the bare fd layer (FdSocket) and for full beamhub sessions (hub.call, a byte
// stream, FileDescriptor attachments). Prints medians of several rounds and the ratios to raw.
//
//   npx tsx bench/unix.ts            (BENCH_SECONDS=1 BENCH_ROUNDS=3 by default)
//   BENCH_ONLY='rr 100|call' npx tsx bench/unix.ts    (only the scenarios whose name matches)
//   BENCH_PIN=1 npx tsx bench/unix.ts     (this process on core 0, every answering process on core 1)
//   BENCH_BUILT=1 npx tsx bench/unix.ts   (the compiled package, dist/ from `npm run build`)
//   BENCH_PROFILE=/tmp/prof node --cpu-prof --cpu-prof-dir=/tmp/prof --import tsx bench/unix.ts
//       (CPU profiles of the hub process and the service process too, written when they exit)
//
// The peers run in the same rounds (unix-peers.ts): Node's child_process.fork IPC with json and
// with advanced serialization, and NATS request/reply (Debian's nats-server, nats.js, a responder
// process). Ratios are medians of the per-round ratios, printed with their spread (lowest–highest).
//
// The child serves on five sockets: raw echo, fd echo, raw bulk sink, fd bulk sink, fd sink.
// The raw echo answers all complete frames of a read with one write (the best plain net can do);
// the FdSocket echo calls write() once per frame and relies on FdSocket's batching. A sixth,
// raw RPC (raw-rpc.ts), is the least a call mechanism does per call over a plain socket.
import { spawn } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ByteStream as ByteStreamEnd, FileDescriptor as Descriptor, HubClient } from "../index.js";
import type * as Beamhub from "../index.js";
import type * as FdLayer from "../fd/index.js";
import {
  formatSpread,
  median,
  processCpuMicros,
  rateFor,
  roundRatioSpread,
  spreadOf,
  type MeasuredWindow,
} from "./harness.js";
import { listenRawRpc, RawRpcClient } from "./raw-rpc.js";
import { forkPeer, natsPeer, pinTo, type Peer } from "./unix-peers.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCHING = process.env.BENCH_BATCHING === "microtask" ? "microtask" : "immediate";
const ONLY = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
/** BENCH_PIN=1: the requesting process on core 0, the answering ones on core 1 (taskset). */
const PIN = process.env.BENCH_PIN === "1";
const ANSWERING_CORE = PIN ? 1 : undefined;
/** BENCH_PROFILE=dir: the hub and service processes write CPU profiles into dir when they end. */
const PROFILE = process.env.BENCH_PROFILE;
const profileArgs = PROFILE === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`];
/**
 * BENCH_BUILT=1: the compiled package (dist/, from `npm run build`), as users run it, in every
 * process; else the sources under tsx (whose helpers name every closure made per call).
 */
const BUILT = process.env.BENCH_BUILT === "1";
const { acceptDirect, ByteStream, connectDirect, connectUnix, FileDescriptor, Hub, hubMetrics, listenUnix } =
  (await import(BUILT ? "../dist/index.js" : "../index.js")) as typeof Beamhub;
const { closeFd, dupFd, FdFifo, FdServer, FdSocket } = (await import(
  BUILT ? "../dist/fd/index.js" : "../fd/index.js"
)) as typeof FdLayer;
const PAYLOAD = 64;
const FRAME = 4 + PAYLOAD;

/** Splits a byte stream into [u32 length][body] frames; returns complete frames' total length. */
class Framer {
  #buffer: Buffer = Buffer.alloc(0);
  /** Appends data; returns [bytes of complete frames at the front, their count]. */
  push(data: Buffer): { frames: Buffer; count: number } {
    this.#buffer = this.#buffer.length === 0 ? data : Buffer.concat([this.#buffer, data]);
    let offset = 0;
    let count = 0;
    while (this.#buffer.length - offset >= 4) {
      const length = this.#buffer.readUInt32BE(offset);
      if (this.#buffer.length - offset < 4 + length) break;
      offset += 4 + length;
      count++;
    }
    const frames = this.#buffer.subarray(0, offset);
    this.#buffer = this.#buffer.subarray(offset);
    return { frames, count };
  }
}

function frame(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  body.copy(out, 4);
  return out;
}

const REQUEST = frame(Buffer.alloc(PAYLOAD, 0x61));

// ---------------------------------------------------------------------------------------------
// Child: the servers

async function child(dir: string): Promise<void> {
  net
    .createServer((socket) => {
      const framer = new Framer();
      socket.on("data", (data: Buffer) => {
        const { frames } = framer.push(data);
        if (frames.length > 0) socket.write(frames);
      });
      socket.on("error", () => {});
    })
    .listen(join(dir, "raw.sock"));
  listenRawRpc(join(dir, "rawrpc.sock"), new Map([["echo", (payload: Buffer) => payload]]));

  await FdServer.listen(join(dir, "fd.sock"), {
    batching: BATCHING,
    onConnection(socket) {
      const framer = new Framer();
      socket.on("data", (data) => {
        const { frames } = framer.push(data);
        for (let offset = 0; offset < frames.length;) {
          const length = 4 + frames.readUInt32BE(offset);
          socket.write(frames.subarray(offset, offset + length));
          offset += length;
        }
      });
      socket.on("error", () => {});
    },
  });

  const bulkTotal = (
    count: (onChunk: (n: number) => void, onEnd: () => void) => void,
    reply: (t: string) => void,
  ) => {
    let total = 0;
    count(
      (n) => (total += n),
      () => reply(String(total)),
    );
  };
  net
    .createServer((socket) => {
      bulkTotal(
        (onChunk, onEnd) => {
          socket.on("data", (d: Buffer) => onChunk(d.length));
          socket.on("end", onEnd);
        },
        (t) => socket.end(t),
      );
      socket.on("error", () => {});
    })
    .listen(join(dir, "rawbulk.sock"));
  await FdServer.listen(join(dir, "fdbulk.sock"), {
    allowHalfOpen: true,
    onConnection(socket) {
      bulkTotal(
        (onChunk, onEnd) => {
          socket.on("data", (d) => onChunk(d.length));
          socket.on("end", onEnd);
        },
        (t) => {
          socket.write(Buffer.from(t));
          socket.end();
        },
      );
      socket.on("error", () => {});
    },
  });

  // fd sink: every frame carries one fd; close it and acknowledge the frame.
  await FdServer.listen(join(dir, "fdsink.sock"), {
    onConnection(socket) {
      const framer = new Framer();
      const fifo = new FdFifo();
      const ack = frame(Buffer.from([1]));
      socket.on("data", (data, fds) => {
        fifo.push(fds);
        const { count } = framer.push(data);
        for (const fd of fifo.take(count)) closeFd(fd);
        for (let i = 0; i < count; i++) socket.write(ack);
      });
      socket.on("error", () => {});
    },
  });
  // A beamhub hub with the services the session scenarios call, with metrics on (its figures, a
  // prom-client registry scraped every second as Prometheus would); and the same without any
  // figures (`stats: false`) on hub-bare.sock, for the metrics on/off ratios of the same run.
  const hub = new Hub();
  const metrics = hubMetrics(hub);
  setInterval(() => void metrics.registry.metrics(), 1000).unref();
  const bare = new Hub({ stats: false });
  await bare.register("echo", (data: unknown) => data);
  await listenUnix(bare, join(dir, "hub-bare.sock"));
  await hub.register("echo", (data: unknown) => data);
  await hub.register("stream.count", async ({ stream }: { stream: ByteStreamEnd }) => {
    let total = 0;
    for await (const chunk of stream.readable) total += chunk.byteLength;
    return total;
  });
  await hub.register("fd.close", ({ file }: { file: Descriptor }) => {
    file.close();
    return 1;
  });
  await listenUnix(hub, join(dir, "hub.sock"));
  process.stdout.write("ready\n");
}

/** Operations/s of `operation` with `inFlight` outstanding, for SECONDS after a warm-up. */
function session(
  inFlight: number,
  operation: () => Promise<unknown>,
  window?: MeasuredWindow,
): Promise<number> {
  return rateFor(SECONDS, inFlight, operation, window);
}

/**
 * CPU time per operation over each round's measured window, in this (the calling) process and
 * in the answering processes together — what a request costs, whatever the scheduler did with
 * the wall clock (issue 19: a loaded 2-core VM moves wall-clock rates by wake-ups).
 */
class CpuPerOperation implements MeasuredWindow {
  /** µs per operation in this process, one value per round. */
  readonly caller: number[] = [];
  /** µs per operation in the answering processes, one value per round. */
  readonly answering: number[] = [];
  #callerBefore = 0;
  #answeringBefore = 0;

  constructor(private readonly pids: readonly number[]) {}

  start(): void {
    this.#callerBefore = processCpuMicros(process.pid);
    this.#answeringBefore = this.#answeringNow();
  }

  end(operations: number): void {
    this.caller.push((processCpuMicros(process.pid) - this.#callerBefore) / operations);
    this.answering.push((this.#answeringNow() - this.#answeringBefore) / operations);
  }

  /** Caller + answering µs per operation, one value per round. */
  get total(): number[] {
    return this.caller.map((caller, round) => caller + this.answering[round]!);
  }

  #answeringNow(): number {
    let micros = 0;
    for (const pid of this.pids) micros += processCpuMicros(pid);
    return micros;
  }
}

/** Bytes/s through one beamhub byte stream in 64 KiB writes, until the service counted them. */
async function sessionBulk(client: HubClient): Promise<number> {
  const [mine, theirs] = ByteStream.pair();
  const counted = client.call<number>("stream.count", { stream: theirs }, { timeout: 0 });
  const writer = mine.writable.getWriter();
  const chunk = new Uint8Array(64 * 1024).fill(0x62);
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let sent = 0;
  while (performance.now() < stopAt) {
    await writer.write(chunk);
    sent += chunk.byteLength;
  }
  await writer.close();
  const total = await counted;
  if (total !== sent) throw new Error(`session bulk: sent ${sent}, the service counted ${total}`);
  return total / ((performance.now() - start) / 1000);
}

// ---------------------------------------------------------------------------------------------
// Parent: the clients

interface Transport {
  write(data: Buffer, fds?: number[]): void;
  onData(handler: (data: Buffer) => void): void;
  close(): void;
}

async function rawTransport(path: string): Promise<Transport> {
  const socket = net.connect(path);
  await new Promise((resolve) => socket.once("connect", resolve));
  return {
    write: (data) => void socket.write(data),
    onData: (handler) => socket.on("data", handler),
    close: () => socket.destroy(),
  };
}

async function fdTransport(path: string): Promise<Transport> {
  const socket = await FdSocket.connect(path, { batching: BATCHING });
  return {
    write: (data, fds) => void socket.write(data, fds),
    onData: (handler) => socket.on("data", (data) => handler(data)),
    close: () => socket.destroy(),
  };
}

/**
 * Requests/s with `inFlight` outstanding. `batched`: send replacements for all responses of a read
 * in one write (raw); otherwise one write() per request (FdSocket batches by itself).
 */
async function requestResponse(
  t: Transport,
  inFlight: number,
  batched: boolean,
  window?: MeasuredWindow,
): Promise<number> {
  const framer = new Framer();
  const batch = Buffer.concat(Array.from({ length: inFlight }, () => REQUEST));
  let done = 0;
  let stopAt = Infinity;
  let measuring = false;
  let started = 0;
  const finished = new Promise<number>((resolve) => {
    t.onData((data) => {
      const { count } = framer.push(data);
      if (measuring) done += count;
      if (performance.now() >= stopAt) {
        resolve(done / ((performance.now() - started) / 1000));
        window?.end(done);
        return;
      }
      if (batched) t.write(batch.subarray(0, count * FRAME));
      else for (let i = 0; i < count; i++) t.write(REQUEST);
    });
  });
  if (batched) t.write(batch);
  else for (let i = 0; i < inFlight; i++) t.write(REQUEST);
  await new Promise((resolve) => setTimeout(resolve, 200)); // warm-up
  measuring = true;
  window?.start();
  started = performance.now();
  stopAt = started + SECONDS * 1000;
  const rate = await finished;
  t.close();
  return rate;
}

/** Bytes/s pushed through in 64 KiB writes, until the receiver has counted them all. */
async function bulk(kind: "raw" | "fd", path: string): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x62);
  let sent = 0;
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let total: number;
  if (kind === "raw") {
    const socket = net.connect(path);
    await new Promise((resolve) => socket.once("connect", resolve));
    let reply = "";
    const done = new Promise<void>((resolve) => socket.on("end", resolve));
    socket.on("data", (d: Buffer) => (reply += d.toString()));
    while (performance.now() < stopAt) {
      sent += chunk.length;
      if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
    }
    socket.end();
    await done;
    total = Number(reply);
  } else {
    const socket = await FdSocket.connect(path, { allowHalfOpen: true });
    let reply = "";
    const done = new Promise<void>((resolve) => socket.on("end", resolve));
    socket.on("data", (d) => (reply += d.toString()));
    while (performance.now() < stopAt) {
      sent += chunk.length;
      if (!socket.write(chunk)) await new Promise<void>((resolve) => socket.once("drain", () => resolve()));
    }
    socket.end();
    await done;
    socket.destroy();
    total = Number(reply);
  }
  if (total !== sent) throw new Error(`bulk ${kind}: sent ${sent}, receiver counted ${total}`);
  return total / ((performance.now() - start) / 1000);
}

/** fd-carrying messages/s: each frame carries a fresh dup of a file fd; `window` in flight. */
async function fdMessages(path: string, file: number, window: number): Promise<number> {
  const socket = await FdSocket.connect(path);
  const framer = new Framer();
  const message = frame(Buffer.alloc(16, 0x63));
  let acked = 0;
  let measuring = false;
  let started = 0;
  let stopAt = Infinity;
  const send = (n: number): void => {
    for (let i = 0; i < n; i++) socket.write(message, [dupFd(file)]);
  };
  const result = new Promise<number>((resolve) => {
    socket.on("data", (data) => {
      const { count } = framer.push(data);
      if (measuring) acked += count;
      if (performance.now() >= stopAt) {
        resolve(acked / ((performance.now() - started) / 1000));
        return;
      }
      send(count);
    });
  });
  send(window);
  await new Promise((resolve) => setTimeout(resolve, 200));
  measuring = true;
  started = performance.now();
  stopAt = started + SECONDS * 1000;
  const rate = await result;
  socket.destroy();
  return rate;
}

async function parent(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-unix-bench-"));
  const server = spawn(
    process.execPath,
    [...profileArgs, "--import", "tsx", fileURLToPath(import.meta.url), "child", dir],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const peers: Peer[] = [];
  try {
    await new Promise((resolve) => server.stdout.once("data", resolve));
    if (PIN) {
      pinTo(process.pid, 0);
      pinTo(server.pid!, 1);
    }
    writeFileSync(join(dir, "payload.txt"), "fd");
    const file = openSync(join(dir, "payload.txt"), "r");
    const client = await connectUnix(join(dir, "hub.sock"));
    const bareClient = await connectUnix(join(dir, "hub-bare.sock"));
    const serviceProcess = spawn(
      process.execPath,
      [...profileArgs, "--import", "tsx", fileURLToPath(import.meta.url), "service", dir],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    await new Promise((resolve) => serviceProcess.stdout.once("data", resolve));
    if (PIN) pinTo(serviceProcess.pid!, 1);
    const forkJson = await forkPeer("json", ANSWERING_CORE);
    const forkAdvanced = await forkPeer("advanced", ANSWERING_CORE);
    const nats = await natsPeer(ANSWERING_CORE);
    peers.push(forkJson, forkAdvanced, nats);
    const direct = await connectDirect(client, "svc.echo");
    const payload = new Uint8Array(PAYLOAD).fill(0x61);
    const rawRpc = await RawRpcClient.connect(join(dir, "rawrpc.sock"));
    const hubPid = server.pid!;
    const servicePid = serviceProcess.pid!;
    // [name, run (told its measured window), unit, the answering processes (for CPU per operation)]
    const allScenarios: [
      string,
      (window: MeasuredWindow) => Promise<number>,
      string,
      (readonly number[])?,
    ][] = [
      [
        "raw rr 1 in flight",
        async (w) => requestResponse(await rawTransport(join(dir, "raw.sock")), 1, true, w),
        "req/s",
        [hubPid],
      ],
      [
        "FdSocket rr 1 in flight",
        async (w) => requestResponse(await fdTransport(join(dir, "fd.sock")), 1, false, w),
        "req/s",
        [hubPid],
      ],
      [
        "raw rr 100 in flight",
        async (w) => requestResponse(await rawTransport(join(dir, "raw.sock")), 100, true, w),
        "req/s",
        [hubPid],
      ],
      [
        "FdSocket rr 100 in flight",
        async (w) => requestResponse(await fdTransport(join(dir, "fd.sock")), 100, false, w),
        "req/s",
        [hubPid],
      ],
      ["raw bulk 64 KiB writes", () => bulk("raw", join(dir, "rawbulk.sock")), "B/s"],
      ["FdSocket bulk 64 KiB writes", () => bulk("fd", join(dir, "fdbulk.sock")), "B/s"],
      [
        "FdSocket 1 fd/message, 256 in flight",
        () => fdMessages(join(dir, "fdsink.sock"), file, 256),
        "msg/s",
      ],
      ["FdSocket 1 fd/message, 16 in flight", () => fdMessages(join(dir, "fdsink.sock"), file, 16), "msg/s"],
      ["raw RPC 1 in flight", (w) => session(1, () => rawRpc.call("echo", payload), w), "req/s", [hubPid]],
      [
        "raw RPC 100 in flight",
        (w) => session(100, () => rawRpc.call("echo", payload), w),
        "req/s",
        [hubPid],
      ],
      [
        "beamhub call 1 in flight",
        (w) => session(1, () => client.call("echo", payload), w),
        "req/s",
        [hubPid],
      ],
      [
        "beamhub call 100 in flight",
        (w) => session(100, () => client.call("echo", payload), w),
        "req/s",
        [hubPid],
      ],
      [
        "beamhub call 1 in flight, metrics off",
        (w) => session(1, () => bareClient.call("echo", payload), w),
        "req/s",
        [hubPid],
      ],
      [
        "beamhub call 100 in flight, metrics off",
        (w) => session(100, () => bareClient.call("echo", payload), w),
        "req/s",
        [hubPid],
      ],
      ["beamhub byte stream bulk", () => sessionBulk(client), "B/s"],
      [
        "beamhub service process via hub, 100 in flight",
        (w) => session(100, () => client.call("svc.echo", payload), w),
        "req/s",
        [hubPid, servicePid],
      ],
      [
        "beamhub service process via hub, 100 in flight, metrics off",
        (w) => session(100, () => bareClient.call("svc.echo", payload), w),
        "req/s",
        [hubPid, servicePid],
      ],
      [
        "beamhub service process direct, 100 in flight",
        (w) => session(100, () => direct.call(payload), w),
        "req/s",
        [servicePid],
      ],
      [
        "fork IPC (json) 1 in flight",
        (w) => session(1, () => forkJson.request(payload), w),
        "req/s",
        forkJson.pids,
      ],
      [
        "fork IPC (json) 100 in flight",
        (w) => session(100, () => forkJson.request(payload), w),
        "req/s",
        forkJson.pids,
      ],
      [
        "fork IPC (advanced) 1 in flight",
        (w) => session(1, () => forkAdvanced.request(payload), w),
        "req/s",
        forkAdvanced.pids,
      ],
      [
        "fork IPC (advanced) 100 in flight",
        (w) => session(100, () => forkAdvanced.request(payload), w),
        "req/s",
        forkAdvanced.pids,
      ],
      [
        "NATS request/reply 1 in flight",
        (w) => session(1, () => nats.request(payload), w),
        "req/s",
        nats.pids,
      ],
      [
        "NATS request/reply 100 in flight",
        (w) => session(100, () => nats.request(payload), w),
        "req/s",
        nats.pids,
      ],
      [
        "beamhub 1 fd/call, 256 in flight",
        (w) => session(256, () => client.call("fd.close", { file: new FileDescriptor(dupFd(file)) }), w),
        "msg/s",
        [hubPid],
      ],
    ];
    const scenarios = allScenarios.filter(([name]) => ONLY === undefined || ONLY.test(name));
    console.log(
      `unix bench: ${ROUNDS} rounds x ${SECONDS} s, batching ${BATCHING}, node ${process.version}, ` +
        `medians${PIN ? ", pinned (this process core 0, the others core 1)" : ""}, ` +
        `load ${loadavg()
          .map((load) => load.toFixed(2))
          .join(" ")}`,
    );
    // Rounds are interleaved (every scenario once per round), so slow phases of a shared machine
    // hit raw and FdSocket alike.
    const samples = new Map<string, number[]>(scenarios.map(([name]) => [name, []]));
    const cpu = new Map<string, CpuPerOperation>(
      scenarios.map(([name, , , pids]) => [name, new CpuPerOperation(pids ?? [])]),
    );
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, run] of scenarios) samples.get(name)?.push(await run(cpu.get(name)!));
    }
    const micros = (values: number[]): string => formatSpread(spreadOf(values));
    for (const [name, , unit] of scenarios) {
      const value = median(samples.get(name) ?? []);
      const shown =
        unit === "B/s"
          ? `${(value / 1e9).toFixed(2)} GB/s`
          : `${Math.round(value).toLocaleString("en")} ${unit}`;
      const used = cpu.get(name)!;
      const perOperation =
        used.caller.length === 0
          ? ""
          : `  CPU µs/op: caller ${micros(used.caller)}, answering ${micros(used.answering)}, ` +
            `total ${micros(used.total)}`;
      console.log(`  ${name.padEnd(40)} ${shown}${perOperation}`);
    }
    const cpuRatio = (a: string, b: string): string => {
      const [over, under] = [cpu.get(a)?.total, cpu.get(b)?.total];
      return over === undefined || under === undefined || over.length === 0 || under.length === 0
        ? "—"
        : formatSpread(roundRatioSpread(over, under));
    };
    console.log("CPU per call (caller + answering), medians of the per-round ratios:");
    for (const floor of [
      "raw RPC 100 in flight",
      "raw rr 100 in flight",
      "fork IPC (advanced) 100 in flight",
    ]) {
      console.log(`  beamhub call 100 in flight / ${floor} ${cpuRatio("beamhub call 100 in flight", floor)}`);
    }
    const ratio = (a: string, b: string): string => {
      const [over, under] = [samples.get(a), samples.get(b)];
      return over === undefined || under === undefined ? "—" : formatSpread(roundRatioSpread(over, under));
    };
    console.log("ratios, medians of the per-round ratios (FdSocket / raw):");
    console.log(`  rr 1 in flight     ${ratio("FdSocket rr 1 in flight", "raw rr 1 in flight")}`);
    console.log(`  rr 100 in flight   ${ratio("FdSocket rr 100 in flight", "raw rr 100 in flight")}`);
    console.log(`  bulk               ${ratio("FdSocket bulk 64 KiB writes", "raw bulk 64 KiB writes")}`);
    console.log("ratios (beamhub session / raw):");
    console.log(
      `  call 1 in flight   ${ratio("beamhub call 1 in flight", "raw rr 1 in flight")}  (target: none)`,
    );
    console.log(
      `  call 100 in flight ${ratio("beamhub call 100 in flight", "raw rr 100 in flight")}  (target >= 0.30)`,
    );
    console.log(
      `  stream bulk        ${ratio("beamhub byte stream bulk", "raw bulk 64 KiB writes")}  (target >= 0.70)`,
    );
    console.log(
      `  call 100 in flight / raw RPC ${ratio("beamhub call 100 in flight", "raw RPC 100 in flight")}  (target >= 0.5)`,
    );
    console.log(
      `  raw RPC 100 in flight / raw echo ${ratio("raw RPC 100 in flight", "raw rr 100 in flight")}`,
    );
    console.log(
      `  direct / via hub  ${ratio("beamhub service process direct, 100 in flight", "beamhub service process via hub, 100 in flight")}`,
    );
    console.log("ratios (beamhub session / peers, same rounds):");
    for (const inFlight of [1, 100]) {
      const call = `beamhub call ${inFlight} in flight`;
      console.log(
        `  call ${inFlight} in flight / fork IPC json ${ratio(call, `fork IPC (json) ${inFlight} in flight`)}, ` +
          `/ fork IPC advanced ${ratio(call, `fork IPC (advanced) ${inFlight} in flight`)}` +
          `${inFlight === 100 ? " (target >= 3)" : ""}, / NATS ${ratio(call, `NATS request/reply ${inFlight} in flight`)}`,
      );
    }
    console.log("ratios (metrics on / off, target >= 0.95):");
    console.log(
      `  call 1 in flight   ${ratio("beamhub call 1 in flight", "beamhub call 1 in flight, metrics off")}`,
    );
    console.log(
      `  call 100 in flight ${ratio("beamhub call 100 in flight", "beamhub call 100 in flight, metrics off")}`,
    );
    console.log(
      `  service process via hub, 100 in flight ${ratio("beamhub service process via hub, 100 in flight", "beamhub service process via hub, 100 in flight, metrics off")}`,
    );
    console.log(
      `load at the end ${loadavg()
        .map((load) => load.toFixed(2))
        .join(" ")}`,
    );
    for (const peer of peers.splice(0)) await peer.close();
    rawRpc.close();
    await direct.close();
    await bareClient.close();
    await client.close();
    serviceProcess.kill();
    if (PROFILE !== undefined) {
      // A profiled hub ends on SIGTERM by exiting, which writes its profile.
      const ended = new Promise((resolve) => server.once("exit", resolve));
      server.kill();
      await ended;
    }
  } finally {
    for (const peer of peers) await peer.close().catch(() => undefined);
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A third process: a service registered into the hub that also accepts direct links. */
async function service(dir: string): Promise<void> {
  const hub = await connectUnix(join(dir, "hub.sock"));
  await hub.register(
    "svc.echo",
    acceptDirect((data: unknown) => data),
  );
  // The same service in the hub without figures (metrics off).
  const bare = await connectUnix(join(dir, "hub-bare.sock"));
  await bare.register(
    "svc.echo",
    acceptDirect((data: unknown) => data),
  );
  process.stdout.write("ready\n");
}

// A profiled process writes its CPU profile on a normal exit, not when a signal ends it.
if (PROFILE !== undefined) process.once("SIGTERM", () => process.exit(0));
if (process.argv[2] === "child") await child(process.argv[3] as string);
else if (process.argv[2] === "service") await service(process.argv[3] as string);
else await parent();
