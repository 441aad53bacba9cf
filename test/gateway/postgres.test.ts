// The TCP gateway in front of a real PostgreSQL (a throwaway cluster from scripts/postgres.sh):
// psql and pgbench through fd hand-off (the exposing side in another process) and through a
// relay over the Unix transport; a client that disconnects mid-query leaves nothing behind.
import type { ChildProcess } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTcp, exposeTcp, type TcpExposure } from "../../gateway/index.js";
import { Hub, connectUnix, listenUnix, type HubClient, type UnixListener } from "../../index.js";
import { pgbench, psql, spawnPeer, startPostgres, stopPostgres, type Postgres } from "./postgres.js";

let pg: Postgres | undefined;
let skipReason = "";
let dir: string;
let hub: Hub;
let listener: UnixListener;
let peer: ChildProcess | undefined;
let exposer: HubClient;
let exposure: TcpExposure;
let caller: HubClient;

beforeAll(async () => {
  const started = await startPostgres(120_000);
  if (typeof started === "string") {
    skipReason = started;
    console.warn(`PostgreSQL gateway tests skipped: ${started}`);
    return;
  }
  pg = started;
  dir = await mkdtemp(join(tmpdir(), "beamhub-gateway-pg-"));
  hub = new Hub();
  const path = join(dir, "hub.sock");
  listener = await listenUnix(hub, path);
  const target = `tcp://127.0.0.1:${pg.port}`;
  // The hand-off service runs in its own process: the database fd really crosses processes.
  peer = (await spawnPeer(join(import.meta.dirname, "expose-peer.ts"), [path, "pg.peer", target])).child;
  exposer = await connectUnix(path);
  exposure = await exposeTcp(exposer, "pg.local", target);
  caller = await connectUnix(path);
  const init = await pgbench(pg, pg.port, ["-i", "-s", "1", "-q"], 60_000);
  if (init.result.code !== 0) throw new Error(`pgbench -i failed: ${init.result.stderr}`);
}, 150_000);

afterAll(async () => {
  if (peer !== undefined) {
    peer.stdin?.end();
    const exited = new Promise((resolve) => peer!.once("exit", resolve));
    const timer = setTimeout(() => peer!.kill("SIGKILL"), 3_000);
    await exited;
    clearTimeout(timer);
  }
  await exposure?.close();
  await caller?.close();
  await exposer?.close();
  await listener?.close();
  await hub?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  await stopPostgres(pg);
}, 30_000);

const cases = [
  { title: "fd hand-off from another process over Unix", service: "pg.peer", mode: "handoff" as const },
  { title: "relay over the Unix transport", service: "pg.local", mode: "relay" as const },
];

describe.each(cases)("PostgreSQL through the gateway: $title", ({ service, mode }) => {
  it("runs psql -c 'select 1'", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(caller, service, { mode });
    const result = await psql(pg, gateway.address.port, "select 1");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("1");
    expect(gateway.mode).toBe(mode);
  });

  it("runs pgbench -S -T 2", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(caller, service, { mode });
    const { tps, result } = await pgbench(
      pg,
      gateway.address.port,
      ["-S", "-c", "2", "-j", "2", "-T", "2"],
      15_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(tps).toBeGreaterThan(100);
  });

  it("leaves nothing hanging when the client disconnects mid-query", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(caller, service, { mode });
    const marker = `beamhub_${mode}_${Date.now()}`;
    const abort = new AbortController();
    // The server notices a vanished client during a query only when it checks the connection.
    const sql = `set client_connection_check_interval = 100; select pg_sleep(30) as ${marker}`;
    const query = psql(pg, gateway.address.port, sql, 20_000, abort.signal);
    const backends = (): Promise<number> =>
      psql(
        pg!,
        pg!.port,
        `select count(*) from pg_stat_activity where query like '%${marker}%' and pid <> pg_backend_pid()`,
      ).then((r) => Number(r.stdout.trim()));
    // Wait (bounded) until the query runs on the server, then kill the client.
    for (let i = 0; i < 100 && (await backends()) === 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await backends()).toBe(1);
    abort.abort(); // kills psql: its connection to the gateway goes away mid-query
    const result = await query;
    expect(result.code).not.toBe(0);
    for (let i = 0; i < 100 && (await backends()) > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await backends()).toBe(0);
    for (let i = 0; i < 100 && gateway.connections > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(gateway.connections).toBe(0);
    if (mode === "relay") expect(exposure.connections).toBe(0);
  });
});
