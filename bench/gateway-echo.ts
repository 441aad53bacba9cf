// The TCP gateway's cost per round trip, without a database: an echo server stands in for it and
// a load process keeps CONNS connections each doing 100-byte request/response round trips. Paths,
// each measured in the same run: a naive Node proxy (`net` piping), the fd hand-off, the relay
// over the Unix transport and over HTTP/2 + TLS (the database host's hub is a child process,
// bench/gateway-hub-peer.ts, as in bench/gateway.ts). Prints round trips/s, the ratio to the
// naive proxy, and the CPU each process spends per round trip (user and system µs, from
// /proc/<pid>/stat) — which says where a relay's time goes — and, where `perf` can count the
// raw_syscalls tracepoint, the system calls and context switches per round trip of each.
//
//   npx tsx bench/gateway-echo.ts [seconds=3] [connections=4]
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer, type AddressInfo, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectTcp, type GatewayMode } from "../gateway/index.js";
import { connectHttps, connectUnix, type HubClient } from "../index.js";
import { spawnPeer } from "../test/gateway/postgres.js";

const MESSAGE = 100;

if (process.argv[2] === "echo") await echoServer();
else if (process.argv[2] === "load")
  await load(Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5]));
else await main(Number(process.argv[2] ?? 3), Number(process.argv[3] ?? 4));

async function main(seconds: number, connections: number): Promise<void> {
  const { child: echo, firstLine: echoLine } = await spawnPeer(fileURLToPath(import.meta.url), ["echo"]);
  const echoPort = Number(echoLine);
  const dir = await mkdtemp(join(tmpdir(), "beamhub-bench-echo-"));
  const { child: hubProcess, firstLine: ready } = await spawnPeer(
    join(import.meta.dirname, "gateway-hub-peer.ts"),
    [dir, `tcp://127.0.0.1:${echoPort}`],
  );
  const unixCaller = await connectUnix(join(dir, "hub.sock"));
  const httpsCaller = await connectHttps(ready.split(" ")[1]!, {
    ca: await readFile(join(dir, "cert", "cert.pem"), "utf8"),
    transport: "http2",
  });
  const wsCaller = await connectHttps(ready.split(" ")[1]!, {
    ca: await readFile(join(dir, "cert", "cert.pem"), "utf8"),
    transport: "websocket",
  });
  const naive = createServer({ noDelay: true }, (client) => {
    const upstream = connect({ port: echoPort, host: "127.0.0.1", noDelay: true });
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => naive.listen(0, "127.0.0.1", resolve));

  try {
    console.log(`gateway echo: ${connections} connections x ${MESSAGE} B round trips, ${seconds} s each`);
    const counting = perfWorks();
    console.log(
      "path          round trips/s  ratio   here: user   sys    hub process: user   sys  (µs/round trip)" +
        (counting ? "   syscalls, switches per round trip: here | hub process" : ""),
    );
    let baseline = Number.NaN;
    const measure = async (label: string, port: number): Promise<void> => {
      const before = [cpu("self"), cpu(hubProcess.pid!)];
      const counts = counting
        ? [countEvents(process.pid, seconds), countEvents(hubProcess.pid!, seconds)]
        : [];
      const rate = await runLoad(port, connections, seconds);
      const after = [cpu("self"), cpu(hubProcess.pid!)];
      if (Number.isNaN(baseline)) baseline = rate;
      const trips = rate * seconds;
      const perTrip = (ticks: number): string => ((ticks * 10_000) / trips).toFixed(1).padStart(6);
      const events = async (count: Promise<[number, number]>): Promise<string> => {
        const [syscalls, switches] = await count;
        return `${(syscalls / trips).toFixed(1)}, ${(switches / trips).toFixed(2)}`;
      };
      const counted = counting ? `   ${await events(counts[0]!)} | ${await events(counts[1]!)}` : "";
      console.log(
        `${label.padEnd(14)}${Math.round(rate).toLocaleString("en").padStart(13)}  ${(rate / baseline).toFixed(2)}×` +
          `  ${perTrip(after[0]![0] - before[0]![0])} ${perTrip(after[0]![1] - before[0]![1])}` +
          `          ${perTrip(after[1]![0] - before[1]![0])} ${perTrip(after[1]![1] - before[1]![1])}` +
          counted,
      );
    };
    const gateway = async (label: string, hub: HubClient, mode: GatewayMode): Promise<void> => {
      const connector = await connectTcp(hub, "pg", { mode });
      try {
        await measure(label, connector.address.port);
      } finally {
        await connector.close();
      }
    };
    await measure("naive proxy", (naive.address() as AddressInfo).port);
    await gateway("hand-off", unixCaller, "handoff");
    await gateway("relay unix", unixCaller, "relay");
    await gateway("relay http2", httpsCaller, "relay");
    await gateway("relay ws", wsCaller, "relay");
  } finally {
    naive.close();
    await unixCaller.close();
    await httpsCaller.close();
    await wsCaller.close();
    await stop(hubProcess);
    await stop(echo);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether `perf stat` can count system calls here (it needs perf and the tracepoint). */
function perfWorks(): boolean {
  const probe = spawnSync("perf", ["stat", "-x,", "-e", "raw_syscalls:sys_enter", "true"], {
    encoding: "utf8",
  });
  return (
    probe.status === 0 && /raw_syscalls:sys_enter/.test(probe.stderr) && !/not supported/.test(probe.stderr)
  );
}

/**
 * System calls and context switches of process `pid` (all its threads) over the next `seconds`,
 * with `perf stat` (whose counting costs the process nothing measurable).
 */
function countEvents(pid: number, seconds: number): Promise<[number, number]> {
  const perf = spawn(
    "perf",
    [
      "stat",
      "-x,",
      "-e",
      "raw_syscalls:sys_enter,context-switches",
      "-p",
      String(pid),
      "--",
      "sleep",
      String(seconds),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let text = "";
  perf.stderr.on("data", (chunk: Buffer) => (text += chunk.toString()));
  return new Promise((resolve) =>
    perf.once("exit", () => {
      const value = (event: string): number =>
        Number(
          text
            .split("\n")
            .find((line) => line.includes(event))
            ?.split(",")[0] ?? Number.NaN,
        );
      resolve([value("raw_syscalls:sys_enter"), value("context-switches")]);
    }),
  );
}

/** [user, system] CPU ticks (1/100 s) a process has used. */
function cpu(pid: number | "self"): [number, number] {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return [Number(fields[11]), Number(fields[12])];
}

async function runLoad(port: number, connections: number, seconds: number): Promise<number> {
  const { firstLine: rate } = await spawnPeer(
    fileURLToPath(import.meta.url),
    ["load", String(port), String(connections), String(seconds)],
    seconds * 1000 + 60_000,
  );
  return Number(rate);
}

/** Child: echoes every connection's bytes back; prints its port; exits when stdin closes. */
async function echoServer(): Promise<void> {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on("error", () => socket.destroy());
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  console.log((server.address() as AddressInfo).port);
  process.stdin.on("end", () => process.exit(0));
  process.stdin.resume();
}

/** Child: `connections` clients doing round trips for `seconds`; prints round trips per second. */
async function load(port: number, connections: number, seconds: number): Promise<void> {
  const message = Buffer.alloc(MESSAGE, 0x61);
  const stopAt = Date.now() + seconds * 1000;
  let trips = 0;
  await Promise.all(
    Array.from(
      { length: connections },
      () =>
        new Promise<void>((resolve) => {
          const socket: Socket = connect({ port, host: "127.0.0.1", noDelay: true }, () =>
            socket.write(message),
          );
          let received = 0;
          socket.on("data", (data) => {
            received += data.byteLength;
            while (received >= MESSAGE) {
              received -= MESSAGE;
              trips++;
              if (Date.now() >= stopAt) return resolve(void socket.destroy());
              socket.write(message);
            }
          });
          socket.on("error", () => resolve());
        }),
    ),
  );
  console.log(trips / seconds);
  process.exit(0);
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.stdin?.end();
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}
