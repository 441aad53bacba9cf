// pgbench -S through the TCP gateway, against its baselines, in one run:
//   direct             pgbench → PostgreSQL
//   naive proxy        pgbench → a Node `net` piping proxy → PostgreSQL
//   socat              pgbench → socat (a native relay, for reference when installed) → PostgreSQL
//   gateway hand-off   pgbench → connector → PostgreSQL: the database connection's fd came from
//                      the hub process over the Unix transport; the connector joins it to the
//                      client in native threads (pgbench itself cannot take an fd)
//   relay (unix)       pgbench → connector → Unix transport → hub process → PostgreSQL
//   relay (http2)      pgbench → connector → HTTP/2 + TLS → hub process → PostgreSQL
// The database host's side is a child process (bench/gateway-hub-peer.ts): a hub that exposes
// PostgreSQL itself and listens on a Unix socket and on https:// (development certificate,
// pinned by the caller). The connectors run in this process, as `beamhub connect` would.
// Run: npx tsx bench/gateway.ts [seconds=5]
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectTcp, type GatewayMode } from "../gateway/index.js";
import { connectHttps, connectUnix, type HubClient } from "../index.js";
import { pgbench, spawnPeer, startPostgres, stopPostgres } from "../test/gateway/postgres.js";

const seconds = Number(process.argv[2] ?? 5);
const args = ["-S", "-c", "4", "-j", "2", "-T", String(seconds), "-n"];

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

  const measure = async (label: string, port: number): Promise<number> => {
    const { tps, result } = await pgbench(pg, port, args, (seconds + 30) * 1000);
    if (result.code !== 0) throw new Error(`${label}: ${result.stderr}`);
    console.log(`${label.padEnd(22)} ${tps.toFixed(0).padStart(8)} TPS`);
    return tps;
  };
  const throughGateway = async (label: string, hub: HubClient, mode: GatewayMode): Promise<number> => {
    const gateway = await connectTcp(hub, "pg", { mode });
    try {
      return await measure(label, gateway.address.port);
    } finally {
      await gateway.close();
    }
  };

  const direct = await measure("direct", pg.port);

  const naive = createServer((client) => {
    const upstream = connect(pg.port, "127.0.0.1");
    client.pipe(upstream).pipe(client);
    client.on("error", () => upstream.destroy());
    upstream.on("error", () => client.destroy());
  });
  await new Promise<void>((resolve) => naive.listen(0, "127.0.0.1", resolve));
  const naiveTps = await measure("naive node proxy", (naive.address() as { port: number }).port);
  naive.close();

  const socat = await measureSocat(pg.port, measure);
  const handoff = await throughGateway("gateway hand-off", unixCaller, "handoff");
  const relay = await throughGateway("gateway relay (unix)", unixCaller, "relay");
  const relayHttp2 = await throughGateway("gateway relay (http2)", httpsCaller, "relay");

  const ratio = (a: number, b: number): string => (Number.isNaN(a / b) ? "-" : (a / b).toFixed(2));
  console.log(
    `\nhand-off / direct          ${ratio(handoff, direct)}x (target >= 0.95)\n` +
      `relay / naive proxy        ${ratio(relay, naiveTps)}x (target >= 1.0)\n` +
      `relay http2 / naive proxy  ${ratio(relayHttp2, naiveTps)}x (target >= 0.8)\n` +
      `naive proxy / direct       ${ratio(naiveTps, direct)}x\n` +
      `socat / direct             ${ratio(socat, direct)}x\n` +
      `hand-off / socat           ${ratio(handoff, socat)}x\n` +
      `hand-off / naive proxy     ${ratio(handoff, naiveTps)}x`,
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

/** pgbench through socat when it is installed (NaN and a note when it is not). */
async function measureSocat(
  target: number,
  measure: (label: string, port: number) => Promise<number>,
): Promise<number> {
  if (spawnSync("socat", ["-V"]).status !== 0) {
    console.log("socat                  (not installed: apt-get install socat; row skipped)");
    return Number.NaN;
  }
  const port = await freePort();
  const socat = spawn("socat", [
    `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,nodelay`,
    `TCP:127.0.0.1:${target},nodelay`,
  ]);
  try {
    await waitForPort(port);
    return await measure("socat", port);
  } finally {
    socat.kill();
  }
}

function freePort(): Promise<number> {
  const server = createServer();
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    }),
  );
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
