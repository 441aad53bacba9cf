// pgbench -S through the TCP gateway, against its baselines, in one run:
//   direct             pgbench → PostgreSQL
//   naive proxy        pgbench → a Node `net` piping proxy → PostgreSQL
//   socat              pgbench → socat (a native relay, for reference when installed) → PostgreSQL
//   gateway hand-off   pgbench → PostgreSQL: pgbench runs with the hand-off library (as under
//                      `beamhub run`), so its connect() gets the database connection's fd, which
//                      came from the hub process over the Unix transport: nothing in between
//   hand-off, relayed  pgbench → connector → PostgreSQL: the same fd, for a program run without
//                      the library: the connector joins it to the client in native threads
//   relay (unix)       pgbench → connector → Unix transport → hub process → PostgreSQL
//   relay (http2)      pgbench → connector → HTTP/2 + TLS → hub process → PostgreSQL
//   naive 2-process    the relays' raw mechanism (bench/naive-relay.ts): pgbench → a Node proxy →
//                      a plain Unix socket or TLS connection → a second Node process → PostgreSQL
// The database host's side is a child process (bench/gateway-hub-peer.ts): a hub that exposes
// PostgreSQL itself and listens on a Unix socket and on https:// (development certificate,
// pinned by the caller). The connectors run in this process, as `beamhub connect` would.
// Run: npx tsx bench/gateway.ts [seconds=5]; BENCH_ROUNDS (default 3) rounds of every scenario;
// BENCH_ONLY=handoff,naive,relay,... limits the run to those (and direct).
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectTcp, handoffEnvironment, type GatewayMode } from "../gateway/index.js";
import { connectHttps, connectUnix, type HubClient } from "../index.js";
import { roundRatio } from "./harness.js";
import { startNaiveRelay } from "./naive-relay.js";
import { pgbench, spawnPeer, startPostgres, stopPostgres } from "../test/gateway/postgres.js";
import { freePort } from "../test/helpers/ports.js";

const seconds = Number(process.argv[2] ?? 5);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
// BENCH_CONNECT=1 adds -C: a new connection per transaction, which measures connection set-up.
const args = [
  "-S",
  "-c",
  "4",
  "-j",
  "2",
  "-T",
  String(seconds),
  "-n",
  ...(process.env.BENCH_CONNECT === "1" ? ["-C"] : []),
];

const pg = await startPostgres();
if (typeof pg === "string") throw new Error(pg);
const dir = await mkdtemp(join(tmpdir(), "beamhub-bench-gateway-"));
const { child: peer, firstLine } = await spawnPeer(join(import.meta.dirname, "gateway-hub-peer.ts"), [
  dir,
  `tcp://127.0.0.1:${pg.port}`,
]);
const httpsUrl = firstLine.split(" ")[1]!;
const unixCaller = await connectUnix(join(dir, "hub.sock"));
const httpsCaller = await connectHttps(httpsUrl, {
  ca: await readFile(join(dir, "cert", "cert.pem"), "utf8"),
  transport: "http2",
});

try {
  const init = await pgbench(pg, pg.port, ["-i", "-s", "1", "-q"], 60_000);
  if (init.result.code !== 0) throw new Error(init.result.stderr);

  const measure = async (label: string, port: number, env: NodeJS.ProcessEnv = {}): Promise<number> => {
    const { tps, result } = await pgbench(pg, port, args, (seconds + 30) * 1000, env);
    if (result.code !== 0) throw new Error(`${label}: ${result.stderr}`);
    console.log(`${label.padEnd(22)} ${tps.toFixed(0).padStart(8)} TPS`);
    return tps;
  };
  const throughGateway = async (
    label: string,
    hub: HubClient,
    mode: GatewayMode,
    library = false,
  ): Promise<number> => {
    const gateway = await connectTcp(hub, "pg", {
      mode,
      handoffSocket: library ? join(dir, "handoff.sock") : undefined,
    });
    try {
      const env = library ? handoffEnvironment(gateway.handoff!.routes) : {};
      return await measure(label, gateway.address.port, env);
    } finally {
      await gateway.close();
    }
  };

  const naive = createServer((client) => {
    const upstream = connect(pg.port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => naive.listen(0, "127.0.0.1", resolve));
  const naivePort = (naive.address() as { port: number }).port;
  const socat = await startSocat(pg.port);
  // The relays' raw mechanism: the same two processes joined by a plain Unix socket / TLS.
  const naiveUnix = await startNaiveRelay("unix", dir, `tcp://127.0.0.1:${pg.port}`);
  const naiveTls = await startNaiveRelay("tls", dir, `tcp://127.0.0.1:${pg.port}`);

  // Each round runs every scenario once, back to back; ratios are taken within a round and the
  // median over rounds is reported, which cancels the VM's drift between minutes.
  // Ordered so that each ratio's two sides run next to each other.
  const scenarios: Record<string, () => Promise<number>> = {
    direct: () => measure("direct", pg.port),
    handoff: () => throughGateway("gateway hand-off", unixCaller, "handoff", true),
    handoffRelayed: () => throughGateway("hand-off, relayed", unixCaller, "handoff"),
    socat: () => (socat === undefined ? Promise.resolve(Number.NaN) : measure("socat", socat.port)),
    naive: () => measure("naive node proxy", naivePort),
    naiveUnix: () => measure("naive 2-process, unix", naiveUnix.port),
    relay: () => throughGateway("gateway relay (unix)", unixCaller, "relay"),
    naiveTls: () => measure("naive 2-process, tls", naiveTls.port),
    relayHttp2: () => throughGateway("gateway relay (http2)", httpsCaller, "relay"),
  };
  const only = process.env.BENCH_ONLY?.split(",");
  const tps: Record<string, number[]> = {};
  for (let round = 1; round <= rounds; round++) {
    console.log(`round ${round}/${rounds}`);
    for (const [name, run] of Object.entries(scenarios)) {
      if (only !== undefined && name !== "direct" && !only.includes(name)) continue;
      (tps[name] ??= []).push(await run());
    }
  }
  naive.close();
  socat?.stop();
  naiveUnix.stop();
  naiveTls.stop();

  const ratio = (over: string, under: string): string => {
    if (tps[over] === undefined || tps[under] === undefined) return "-";
    const value = roundRatio(tps[over], tps[under]);
    return Number.isNaN(value) ? "-" : value.toFixed(2);
  };
  console.log(
    `\nmedians of per-round ratios over ${rounds} rounds:\n` +
      `hand-off / direct          ${ratio("handoff", "direct")}x (target >= 0.95)\n` +
      `relay / naive proxy        ${ratio("relay", "naive")}x (target >= 1.0)\n` +
      `relay http2 / naive proxy  ${ratio("relayHttp2", "naive")}x (target >= 0.8)\n` +
      `relay / naive 2-process unix       ${ratio("relay", "naiveUnix")}x (the raw mechanism of the relay)\n` +
      `relay http2 / naive 2-process tls  ${ratio("relayHttp2", "naiveTls")}x\n` +
      `naive proxy / direct       ${ratio("naive", "direct")}x\n` +
      `socat / direct             ${ratio("socat", "direct")}x\n` +
      `hand-off relayed / direct  ${ratio("handoffRelayed", "direct")}x\n` +
      `hand-off relayed / socat   ${ratio("handoffRelayed", "socat")}x`,
  );
} finally {
  await unixCaller.close();
  await httpsCaller.close();
  peer.stdin?.end();
  await new Promise((resolve) => {
    const timer = setTimeout(() => peer.kill("SIGKILL"), 5_000);
    peer.once("exit", () => resolve(clearTimeout(timer)));
  });
  await rm(dir, { recursive: true, force: true });
  await stopPostgres(pg);
}

/** socat relaying a free port to `target`, when it is installed (else a note and undefined). */
async function startSocat(target: number): Promise<{ port: number; stop(): void } | undefined> {
  if (spawnSync("socat", ["-V"]).status !== 0) {
    console.log("socat: not installed (apt-get install socat); its rows are skipped");
    return undefined;
  }
  const port = await freePort();
  const socat = spawn("socat", [
    `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,nodelay`,
    `TCP:127.0.0.1:${target},nodelay`,
  ]);
  await waitForPort(port);
  return { port, stop: () => socat.kill() };
}

async function waitForPort(port: number): Promise<void> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const open = await new Promise<boolean>((resolve) => {
      const probe = connect(port, "127.0.0.1", () => {
        probe.destroy();
        resolve(true);
      });
      probe.on("error", () => resolve(false));
    });
    if (open) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`socat did not listen on ${port}`);
}
