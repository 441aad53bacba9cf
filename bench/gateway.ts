// pgbench -S through the TCP gateway, against its baselines, in one run:
//   direct             pgbench → PostgreSQL
//   naive proxy        pgbench → a Node `net` piping proxy → PostgreSQL
//   gateway hand-off   pgbench → connector (pipes two sockets; the db fd came from another
//                      process over the Unix transport, no hub in the data path) → PostgreSQL
//   gateway relay      pgbench → connector → Unix → hub → Unix → exposing process → PostgreSQL
//   relay (http2)      pgbench → connector → HTTP/2+TLS → hub → Unix → exposing process →
//                      PostgreSQL: the caller as from another machine (the hub also listens
//                      on https:// on loopback with a development certificate; the caller
//                      pins it)
// The hub and the connector run in this process; the exposing side is a child process.
// Run: npx tsx bench/gateway.ts [seconds=5]
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectTcp } from "../gateway/index.js";
import { Hub, connectHttps, connectUnix, listenHttps, listenUnix } from "../index.js";
import { pgbench, spawnPeer, startPostgres, stopPostgres } from "../test/gateway/postgres.js";

const seconds = Number(process.argv[2] ?? 5);
const args = ["-S", "-c", "4", "-j", "2", "-T", String(seconds), "-n"];

const pg = await startPostgres();
if (typeof pg === "string") throw new Error(pg);
const dir = await mkdtemp(join(tmpdir(), "beamhub-bench-gateway-"));
const hub = new Hub();
const listener = await listenUnix(hub, join(dir, "hub.sock"));
const peer = (
  await spawnPeer(join(import.meta.dirname, "..", "test", "gateway", "expose-peer.ts"), [
    join(dir, "hub.sock"),
    "pg",
    `tcp://127.0.0.1:${pg.port}`,
  ])
).child;
const caller = await connectUnix(join(dir, "hub.sock"));
const https = await listenHttps(hub, { port: 0, certDir: join(dir, "cert") });
const httpsCaller = await connectHttps(https.url, { ca: https.certificate, transport: "http2" });

try {
  const init = await pgbench(pg, pg.port, ["-i", "-s", "1", "-q"], 60_000);
  if (init.result.code !== 0) throw new Error(init.result.stderr);

  const measure = async (label: string, port: number): Promise<number> => {
    const { tps, result } = await pgbench(pg, port, args, (seconds + 30) * 1000);
    if (result.code !== 0) throw new Error(`${label}: ${result.stderr}`);
    console.log(`${label.padEnd(22)} ${tps.toFixed(0).padStart(8)} TPS`);
    return tps;
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

  const handoffGateway = await connectTcp(caller, "pg", { mode: "handoff" });
  const handoff = await measure("gateway hand-off", handoffGateway.address.port);
  await handoffGateway.close();

  const relayGateway = await connectTcp(caller, "pg", { mode: "relay" });
  const relay = await measure("gateway relay (unix)", relayGateway.address.port);
  await relayGateway.close();

  const http2Gateway = await connectTcp(httpsCaller, "pg", { mode: "relay" });
  const relayHttp2 = await measure("gateway relay (http2)", http2Gateway.address.port);
  await http2Gateway.close();

  console.log(
    `\nhand-off / direct          ${(handoff / direct).toFixed(2)}x (target >= 0.95)\n` +
      `relay / naive proxy        ${(relay / naiveTps).toFixed(2)}x (target >= 1.0)\n` +
      `relay http2 / naive proxy  ${(relayHttp2 / naiveTps).toFixed(2)}x (target >= 0.8)\n` +
      `naive proxy / direct       ${(naiveTps / direct).toFixed(2)}x\n` +
      `hand-off / naive proxy     ${(handoff / naiveTps).toFixed(2)}x`,
  );
} finally {
  peer.stdin?.end();
  await caller.close();
  await httpsCaller.close();
  await https.close();
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
  await stopPostgres(pg);
}
