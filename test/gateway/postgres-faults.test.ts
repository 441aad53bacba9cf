// Faults of a real PostgreSQL behind the gateway, in every mode of postgres.test.ts: a backend
// terminated or SIGKILLed mid-query, pgbench's sessions terminated under load, and a database
// that is down (nothing listens at the target). Clients must see their connection close within
// 2-3 s, and the gateway must be left with no connections and nothing pending.
// (A client that disconnects mid-query is in postgres.test.ts.)
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTcp, exposeTcp, type TcpConnector, type TcpExposure } from "../../gateway/index.js";
import { within } from "../compliance/suite.js";
import { backends, CASES, establishedTcp, eventually, startGatewayBed, type GatewayBed } from "./pg-bed.js";
import { rawPgClient, type RawPgClient } from "./pg-wire.js";
import { pgbench, psql } from "./postgres.js";

let bed: GatewayBed | undefined;
let skipReason = "";
let scriptDir: string | undefined;

beforeAll(async () => {
  const started = await startGatewayBed({ pgbenchInit: false });
  if (typeof started === "string") {
    skipReason = started;
    console.warn(`PostgreSQL gateway fault tests skipped: ${started}`);
    return;
  }
  bed = started;
  scriptDir = await mkdtemp(join(tmpdir(), "beamhub-gateway-faults-"));
}, 150_000);

afterAll(async () => {
  if (scriptDir !== undefined) await rm(scriptDir, { recursive: true, force: true });
  await bed?.close();
}, 30_000);

/** A session through `gateway` running `select pg_sleep(30)`, once the server runs it. */
async function sessionMidQuery(bed: GatewayBed, gateway: TcpConnector, marker: string): Promise<RawPgClient> {
  const client = await rawPgClient(gateway.address.port, {
    user: bed.pg.user,
    database: bed.pg.dbname,
    application: marker,
  });
  client.query("select pg_sleep(30)");
  await eventually(
    async () => (await backends(bed.pg, `pid = ${client.backendPid} and state = 'active'`)) === 1,
    "the query to run on the server",
    5_000,
  );
  return client;
}

/**
 * Asserts that neither side of the gateway holds a connection (the peer process's exposure is
 * not visible here: no open TCP connection to the cluster speaks for it) and that closing does
 * not hang.
 */
async function expectLetGo(gateway: TcpConnector, exposure: TcpExposure | undefined): Promise<void> {
  await eventually(() => gateway.connections === 0, "the connector to let go", 2_000);
  if (exposure !== undefined)
    await eventually(() => exposure.connections === 0, "the exposure to let go", 2_000);
  const port = bed!.pg.port;
  await eventually(async () => (await establishedTcp(port)) === 0, "no database connection left open", 2_000);
  await within(gateway.close(), 2_000, "the connector to close");
}

/** Waits until the cluster accepts sessions again (after a crash it restarts all backends). */
async function untilServing(bed: GatewayBed): Promise<void> {
  await eventually(
    async () => (await psql(bed.pg, bed.pg.port, "select 1")).code === 0,
    "PostgreSQL to accept sessions again",
    30_000,
  );
}

describe.each(CASES)("PostgreSQL faults through the gateway: $title", ({ caller, exposer, mode }) => {
  const marker = `beamhub_faults_${caller}_${exposer}_${mode}`;
  const exposure = (): TcpExposure | undefined => (exposer === "peer" ? undefined : bed!.exposures[exposer]);

  it("closes the client promptly when the server terminates its backend mid-query", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(bed.callers[caller], bed.service(exposer), { mode });
    const client = await sessionMidQuery(bed, gateway, `${marker}_terminate`);
    const terminated = await psql(bed.pg, bed.pg.port, `select pg_terminate_backend(${client.backendPid})`);
    expect(terminated.stdout.trim()).toBe("t");
    await within(client.closed, 2_000, "the client to see its connection close");
    // The server's last words (FATAL 57P01 "terminating connection due to administrator
    // command") came through before the close.
    expect(client.errorCodes()).toContain("57P01");
    await expectLetGo(gateway, exposure());
    expect(await backends(bed.pg, `pid = ${client.backendPid}`)).toBe(0);
  });

  it("closes the client promptly when its backend is killed (SIGKILL) mid-query", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(bed.callers[caller], bed.service(exposer), { mode });
    const client = await sessionMidQuery(bed, gateway, `${marker}_kill`);
    try {
      // No last words: the process is gone and the kernel closes its socket.
      process.kill(client.backendPid, "SIGKILL");
      await within(client.closed, 2_000, "the client to see its connection close");
      expect(client.errorCodes()).toEqual([]);
      await expectLetGo(gateway, exposure());
    } finally {
      // PostgreSQL answers a crashed backend by restarting every backend: wait for it.
      await untilServing(bed);
    }
  });

  it("ends a pgbench run promptly when its sessions are terminated under load", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(bed.callers[caller], bed.service(exposer), { mode });
    const script = join(scriptDir!, "sleep.sql");
    await writeFile(script, "select pg_sleep(0.01);\n");
    const run = pgbench(
      bed.pg,
      gateway.address.port,
      ["-n", "-f", script, "-c", "2", "-j", "2", "-T", "30"],
      40_000,
    );
    const clients = (): Promise<number> => backends(bed!.pg, "application_name = 'pgbench'");
    await eventually(async () => (await clients()) === 2, "pgbench's two sessions", 10_000);
    await psql(
      bed.pg,
      bed.pg.port,
      "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'pgbench'",
    );
    const { result } = await within(run, 3_000, "pgbench to give up");
    expect(result.code).not.toBe(0);
    expect(result.stderr).toMatch(/terminating connection due to administrator command|server closed/);
    await expectLetGo(gateway, exposure());
    expect(await clients()).toBe(0);
  });

  it("closes the client at once when the database is down, and logs which host:port", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    const downPort = await closedPort();
    const exposeLog: string[] = [];
    const connectLog: string[] = [];
    // The peer process exposes only the live cluster; this process's Unix client stands in.
    const side = exposer === "peer" ? "unix" : exposer;
    await using down = await exposeTcp(bed.exposers[side], `${marker}.down`, `tcp://127.0.0.1:${downPort}`, {
      log: (line) => exposeLog.push(line),
    });
    await using gateway = await connectTcp(bed.callers[caller], `${marker}.down`, {
      mode,
      log: (line) => connectLog.push(line),
    });
    const result = await within(psql(bed.pg, gateway.address.port, "select 1"), 3_000, "psql to fail");
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/server closed the connection unexpectedly|reset by peer/);
    await eventually(() => connectLog.length > 0, "the connector's log line");
    expect(connectLog.join("\n")).toMatch(new RegExp(`EUPSTREAM.*127\\.0\\.0\\.1:${downPort}: ECONNREFUSED`));
    expect(exposeLog.join("\n")).toContain(`127.0.0.1:${downPort}: ECONNREFUSED`);
    await expectLetGo(gateway, down);
  });
});

/** A loopback port nothing listens on (bound once, then released). */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
