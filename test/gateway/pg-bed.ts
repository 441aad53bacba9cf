// The test bed of the PostgreSQL gateway tests: a throwaway cluster, one hub listening on a
// Unix socket and on https:// (a generated development certificate, pinned by the clients),
// the cluster exposed from three places (another process over Unix, this process over Unix,
// this process over HTTPS), and a caller on each transport.
import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exposeTcp, type GatewayMode, type TcpExposure } from "../../gateway/index.js";
import { Hub, connectHttps, connectUnix, listenHttps, listenUnix, type HubClient } from "../../index.js";
import { pgbench, psql, spawnPeer, startPostgres, stopPostgres, type Postgres } from "./postgres.js";

/** One way of reaching the cluster through the gateway. */
export interface GatewayCase {
  title: string;
  /** Which transport the connector's hub client uses. */
  caller: "unix" | "https";
  /** Who exposes the cluster: the peer process (over Unix), or this process over Unix or HTTPS. */
  exposer: "peer" | "unix" | "https";
  mode: GatewayMode;
  /** The mode the connector reports once a connection went through. */
  settles: GatewayMode;
}

export const CASES: GatewayCase[] = [
  {
    title: "fd hand-off from another process over Unix",
    caller: "unix",
    exposer: "peer",
    mode: "handoff",
    settles: "handoff",
  },
  {
    title: "relay over the Unix transport",
    caller: "unix",
    exposer: "unix",
    mode: "relay",
    settles: "relay",
  },
  { title: "relay over HTTP/2/TLS", caller: "https", exposer: "https", mode: "relay", settles: "relay" },
  // fds cannot travel over HTTPS: the peer's socket reaches the hub as an fd and the caller as a
  // byte stream, and "auto" relays from then on.
  {
    title: "auto over HTTP/2/TLS, exposed by another process over Unix",
    caller: "https",
    exposer: "peer",
    mode: "auto",
    settles: "relay",
  },
  // Here the exposing side's own transport turns the socket into a byte stream.
  {
    title: "auto over HTTP/2/TLS, exposed over HTTP/2/TLS",
    caller: "https",
    exposer: "https",
    mode: "auto",
    settles: "relay",
  },
];

export interface GatewayBed {
  pg: Postgres;
  callers: Record<"unix" | "https", HubClient>;
  /** Hub clients in this process that expose things (tests add their own exposures). */
  exposers: Record<"unix" | "https", HubClient>;
  /** The exposures of the cluster in this process (the peer's is in its own). */
  exposures: Record<"unix" | "https", TcpExposure>;
  /** The service name serving the cluster for `exposer`. */
  service(exposer: GatewayCase["exposer"]): string;
  close(): Promise<void>;
}

/**
 * Starts the bed, or resolves to why PostgreSQL is not available here (the tests then skip).
 * `pgbenchInit` creates pgbench's tables (for `pgbench -S`).
 */
export async function startGatewayBed(options: { pgbenchInit: boolean }): Promise<GatewayBed | string> {
  const pg = await startPostgres(120_000);
  if (typeof pg === "string") return pg;
  const dir = await mkdtemp(join(tmpdir(), "beamhub-gateway-pg-"));
  const hub = new Hub();
  const unixPath = join(dir, "hub.sock");
  const opened: { close(): Promise<void> }[] = [];
  let peer: ChildProcess | undefined;
  const close = async (): Promise<void> => {
    if (peer !== undefined) await stopPeer(peer);
    for (const item of opened.reverse()) await item.close();
    await hub.close();
    await rm(dir, { recursive: true, force: true });
    await stopPostgres(pg);
  };
  try {
    opened.push(await listenUnix(hub, unixPath));
    const https = await listenHttps(hub, { port: 0, certDir: join(dir, "cert") });
    opened.push(https);
    const target = `tcp://127.0.0.1:${pg.port}`;
    // The hand-off service runs in its own process: the database fd really crosses processes.
    peer = (await spawnPeer(join(import.meta.dirname, "expose-peer.ts"), [unixPath, "pg.peer", target]))
      .child;
    const httpsClient = async (): Promise<HubClient> => {
      const client = await connectHttps(https.url, { ca: https.certificate, transport: "http2" });
      if (client.transport !== "http2") throw new Error(`expected HTTP/2, got ${client.transport}`);
      return client;
    };
    const exposers = { unix: await connectUnix(unixPath), https: await httpsClient() };
    const callers = { unix: await connectUnix(unixPath), https: await httpsClient() };
    opened.push(exposers.unix, exposers.https, callers.unix, callers.https);
    const exposures = {
      unix: await exposeTcp(exposers.unix, "pg.unix", target),
      https: await exposeTcp(exposers.https, "pg.https", target),
    };
    opened.push(exposures.unix, exposures.https);
    if (options.pgbenchInit) {
      const init = await pgbench(pg, pg.port, ["-i", "-s", "1", "-q"], 60_000);
      if (init.result.code !== 0) throw new Error(`pgbench -i failed: ${init.result.stderr}`);
    }
    return {
      pg,
      callers,
      exposers,
      exposures,
      service: (exposer) => `pg.${exposer}`,
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Ends the peer process (stdin closed), killing it if it does not exit within 3 s. */
async function stopPeer(peer: ChildProcess): Promise<void> {
  if (peer.exitCode !== null || peer.signalCode !== null) return;
  const exited = new Promise((resolve) => peer.once("exit", resolve));
  peer.stdin?.end();
  const timer = setTimeout(() => peer.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}

/** Polls `check` every 20 ms until it holds, failing after `ms`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  what: string,
  ms = 3_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Server processes (other than the asking one) whose `pg_stat_activity` row matches `where`. */
export async function backends(pg: Postgres, where: string): Promise<number> {
  const result = await psql(
    pg,
    pg.port,
    `select count(*) from pg_stat_activity where (${where}) and pid <> pg_backend_pid()`,
  );
  if (result.code !== 0) throw new Error(`psql failed: ${result.stderr}`);
  return Number(result.stdout.trim());
}

/**
 * TCP connections to or from `port` that are fully open (ESTABLISHED), from /proc/net/tcp: the
 * database connections still open, whichever process (this one, the peer, the cluster) holds
 * them. A closed connection leaves this state at once (FIN_WAIT, CLOSE_WAIT, TIME_WAIT).
 */
export async function establishedTcp(port: number): Promise<number> {
  const table = await readFile("/proc/net/tcp", "utf8");
  const hex = `:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  return table
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter(([, local, remote, state]) => state === "01" && (local?.endsWith(hex) || remote?.endsWith(hex)))
    .length;
}
