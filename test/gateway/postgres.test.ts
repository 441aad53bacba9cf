// The TCP gateway in front of a real PostgreSQL (a throwaway cluster from scripts/postgres.sh):
// psql and pgbench through fd hand-off (the exposing side in another process), through a relay
// over the Unix transport, and over HTTP/2/TLS (relay, and "auto" settling on relay because
// fds cannot travel there); a client that disconnects mid-query leaves nothing behind.
// Faults of the database itself: postgres-faults.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTcp } from "../../gateway/index.js";
import { backends, CASES, establishedTcp, eventually, startGatewayBed, type GatewayBed } from "./pg-bed.js";
import { pgbench, psql } from "./postgres.js";

let bed: GatewayBed | undefined;
let skipReason = "";

beforeAll(async () => {
  const started = await startGatewayBed({ pgbenchInit: true });
  if (typeof started === "string") {
    skipReason = started;
    console.warn(`PostgreSQL gateway tests skipped: ${started}`);
    return;
  }
  bed = started;
}, 150_000);

afterAll(() => bed?.close(), 30_000);

describe.each(CASES)("PostgreSQL through the gateway: $title", ({ caller, exposer, mode, settles }) => {
  it("runs psql -c 'select 1'", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    const log: string[] = [];
    await using gateway = await connectTcp(bed.callers[caller], bed.service(exposer), {
      mode,
      log: (line) => log.push(line),
    });
    const result = await psql(bed.pg, gateway.address.port, "select 1");
    expect(result.stderr).toBe("");
    expect(result.stdout.trim()).toBe("1");
    expect(gateway.mode).toBe(settles);
    if (mode === "auto" && settles === "relay") {
      expect(log).toEqual([expect.stringContaining("file descriptors cannot travel to this client")]);
    } else {
      expect(log).toEqual([]);
    }
  });

  it("runs pgbench -S -T 2", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    await using gateway = await connectTcp(bed.callers[caller], bed.service(exposer), { mode });
    const { tps, result } = await pgbench(
      bed.pg,
      gateway.address.port,
      ["-S", "-c", "2", "-j", "2", "-T", "2"],
      15_000,
    );
    expect(result.code, result.stderr).toBe(0);
    expect(tps).toBeGreaterThan(100);
    expect(gateway.mode).toBe(settles);
  });

  it("leaves nothing hanging when the client disconnects mid-query", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    const { pg } = bed;
    await using gateway = await connectTcp(bed.callers[caller], bed.service(exposer), { mode });
    const marker = `beamhub_${caller}_${exposer}_${mode}_${Date.now()}`;
    const abort = new AbortController();
    // The server notices a vanished client during a query only when it checks the connection.
    const sql = `set client_connection_check_interval = 100; select pg_sleep(30) as ${marker}`;
    const query = psql(pg, gateway.address.port, sql, 20_000, abort.signal);
    const running = (): Promise<number> => backends(pg, `query like '%${marker}%'`);
    await eventually(async () => (await running()) === 1, "the query to run on the server", 5_000);
    abort.abort(); // kills psql (SIGKILL): its connection to the gateway goes away mid-query
    const result = await query;
    expect(result.code).not.toBe(0);
    // The server's backend goes: the upstream connection was torn down, whichever the path.
    await eventually(async () => (await running()) === 0, "the backend to go", 5_000);
    await eventually(async () => (await establishedTcp(pg.port)) === 0, "no database connection left open");
    await eventually(() => gateway.connections === 0, "the connector to let go");
    if (exposer !== "peer") {
      await eventually(() => bed!.exposures[exposer].connections === 0, "the exposure to let go");
    }
  });
});

describe("PostgreSQL through the gateway: hand-off asked for over HTTP/2/TLS", () => {
  it("fails the connection clearly and leaves no database connection open", async (context) => {
    if (bed === undefined) return context.skip(skipReason);
    const log: string[] = [];
    // The peer's socket reaches the hub as an fd but could only continue as a byte stream.
    await using gateway = await connectTcp(bed.callers.https, bed.service("peer"), {
      mode: "handoff",
      log: (line) => log.push(line),
    });
    const result = await psql(bed.pg, gateway.address.port, "select 1");
    expect(result.code).toBe(2);
    await eventually(() => log.length > 0, "the connector's log line");
    expect(log.join("\n")).toMatch(/EGATEWAY_PROTOCOL: file descriptors cannot travel to this client/);
    expect(gateway.mode).toBe("handoff");
    await eventually(() => gateway.connections === 0, "the connector to let go");
    await eventually(
      async () => (await establishedTcp(bed!.pg.port)) === 0,
      "the upstream connection to close",
    );
  });
});
