// A throwaway PostgreSQL cluster for the gateway tests (scripts/postgres.sh), plus helpers to
// run its client tools with bounded time.
import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { scriptArgs } from "../helpers/programs.js";

/** A running cluster, as `scripts/postgres.sh start` printed it. */
export interface Postgres {
  readonly host: string;
  readonly port: number;
  readonly dbname: string;
  readonly user: string;
  readonly dir: string;
}

const script = join(import.meta.dirname, "..", "..", "scripts", "postgres.sh");

/** Where the client tools live (`psql`, `pgbench`): on PATH or in PostgreSQL's bin dir. */
export function pgTool(name: "psql" | "pgbench"): string {
  for (const dir of existsSync("/usr/lib/postgresql") ? readdirSync("/usr/lib/postgresql") : []) {
    const path = `/usr/lib/postgresql/${dir}/bin/${name}`;
    if (existsSync(path)) return path;
  }
  return name;
}

/**
 * Starts a cluster (installing PostgreSQL first if needed) within `timeout` ms. Resolves to the
 * cluster, or to a string saying why PostgreSQL is not available here (the tests then skip).
 */
export async function startPostgres(timeout = 120_000): Promise<Postgres | string> {
  const result = await run(script, ["start"], { timeout });
  if (result.code !== 0)
    return `scripts/postgres.sh start failed (exit ${result.code}): ${result.stderr.trim().slice(-500)}`;
  const [host, port, dbname, user, dir] = result.stdout.trim().split(/\s+/);
  if (
    host === undefined ||
    port === undefined ||
    dbname === undefined ||
    user === undefined ||
    dir === undefined
  ) {
    return `scripts/postgres.sh printed ${JSON.stringify(result.stdout)}`;
  }
  return { host, port: Number(port), dbname, user, dir };
}

/** Stops the cluster and removes its directory. */
export async function stopPostgres(pg: Postgres | undefined): Promise<void> {
  if (pg !== undefined) await run(script, ["stop", pg.dir], { timeout: 20_000 });
}

/** The outcome of a command. */
export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, killing it after `timeout` ms; never rejects. */
export function run(
  command: string,
  args: string[],
  options: { timeout: number; env?: NodeJS.ProcessEnv; signal?: AbortSignal },
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      {
        timeout: options.timeout,
        killSignal: "SIGKILL",
        env: { ...process.env, ...options.env },
        signal: options.signal,
        maxBuffer: 16 << 20,
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, signal: child.signalCode, stdout: String(stdout), stderr: String(stderr) });
      },
    );
  });
}

/** `psql` against host:port with trust auth; `-X` ignores any psqlrc. */
export function psql(
  pg: Postgres,
  port: number,
  sql: string,
  timeout = 10_000,
  signal?: AbortSignal,
): Promise<RunResult> {
  return run(
    pgTool("psql"),
    ["-X", "-tA", "-h", "127.0.0.1", "-p", String(port), "-U", pg.user, "-d", pg.dbname, "-c", sql],
    {
      timeout,
      env: { PGCONNECT_TIMEOUT: "5", PGSSLMODE: "disable" },
      ...(signal === undefined ? {} : { signal }),
    },
  );
}

/** `pgbench` against host:port; returns the TPS it reports (NaN when it failed). */
export async function pgbench(
  pg: Postgres,
  port: number,
  args: string[],
  timeout = 30_000,
  env: NodeJS.ProcessEnv = {},
): Promise<{ tps: number; result: RunResult }> {
  const result = await run(
    pgTool("pgbench"),
    ["-h", "127.0.0.1", "-p", String(port), "-U", pg.user, ...args, pg.dbname],
    {
      timeout,
      env: { PGSSLMODE: "disable", ...env },
    },
  );
  const match = /tps = ([\d.]+)/.exec(result.stdout);
  return { tps: match === null ? Number.NaN : Number(match[1]), result };
}

/**
 * Spawns `node <script> ...args` (prebuilt for the tests, through tsx for a bench) and waits (bounded) for its first stdout line: a
 * peer saying it is ready, or a bench child's result.
 */
export async function spawnPeer(
  scriptPath: string,
  args: string[],
  timeout = 15_000,
): Promise<{ child: ReturnType<typeof spawn>; firstLine: string }> {
  const child = spawn(process.execPath, [...scriptArgs(scriptPath), ...args], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    let text = "";
    const timer = setTimeout(
      () => reject(new Error(`${scriptPath} did not start within ${timeout} ms`)),
      timeout,
    );
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const end = text.indexOf("\n");
      if (end >= 0) {
        clearTimeout(timer);
        resolve(text.slice(0, end));
      }
    });
    // "close", not "exit": it comes after stdout's last data, so a child that prints its line and
    // exits at once (a load generator reporting its result) still counts as having printed it.
    child.once("close", (code) => {
      clearTimeout(timer);
      reject(new Error(`${scriptPath} exited with ${code} before printing a line`));
    });
  });
  return { child, firstLine };
}

/** Open descriptors of this process. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}
