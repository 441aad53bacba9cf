// `beamhub run` in front of a real PostgreSQL: psql and pgbench, started with the hand-off
// library, get the database connection's socket itself (exposed by another process over the
// Unix transport). The session outlives the exposing process and the hub; run passes the
// command's exit code on; an https hub makes it go through the port.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { handoffLibraryPath } from "../../gateway/index.js";
import { Hub, listenUnix, type UnixListener } from "../../index.js";
import { beamhub, cliArgs, cliEnv, root, startCli, within } from "../cli/helpers.js";
import { establishedTcp, eventually } from "./pg-bed.js";
import { pgTool, run, spawnPeer, startPostgres, stopPostgres, type Postgres } from "./postgres.js";
import { freePort } from "../helpers/ports.js";

let pg: Postgres | undefined;
let skipReason = "";
let dir: string;

beforeAll(async () => {
  try {
    handoffLibraryPath();
  } catch (error) {
    skipReason = (error as Error).message; // off Linux; handoff-library.test.ts fails when it should be there
    return;
  }
  const started = await startPostgres();
  if (typeof started === "string") {
    skipReason = started;
    console.warn(`PostgreSQL hand-off tests skipped: ${started}`);
    return;
  }
  pg = started;
  dir = await mkdtemp(join(tmpdir(), "beamhub-pg-handoff-"));
}, 150_000);

afterAll(async () => {
  await stopPostgres(pg);
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
}, 30_000);

/** A hub on a Unix socket in this process, and another process exposing the cluster on it. */
async function startHubAndExposer(
  name: string,
): Promise<{ socket: string; exposer: ChildProcess; close(): Promise<void> }> {
  const socket = join(dir, `${name}.sock`);
  const hub = new Hub();
  const listener: UnixListener = await listenUnix(hub, socket);
  const { child } = await spawnPeer(join(import.meta.dirname, "expose-peer.ts"), [
    socket,
    name,
    `tcp://127.0.0.1:${pg!.port}`,
  ]);
  let closed = false;
  return {
    socket,
    exposer: child,
    close: async () => {
      if (closed) return;
      closed = true;
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await exited;
      }
      await listener.close();
      await hub.close();
    },
  };
}

/** psql's arguments for the cluster at host 127.0.0.1, `port`. */
function psqlArgs(port: number, ...rest: string[]): string[] {
  return [
    pgTool("psql"),
    "-X",
    "-tA",
    "-v",
    "ON_ERROR_STOP=1",
    "-h",
    "127.0.0.1",
    "-p",
    String(port),
    "-U",
    pg!.user,
    "-d",
    pg!.dbname,
    ...rest,
  ];
}

const PG_ENV = { PGSSLMODE: "disable", PGCONNECT_TIMEOUT: "5" };

describe("beamhub run in front of PostgreSQL", () => {
  it("hands psql the database's socket: the session outlives the exposing process and the hub", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    const setup = await startHubAndExposer("pg.run");
    const port = await freePort();
    const paused = join(dir, "paused");
    const go = join(dir, "go");
    // psql stops between two queries (its \! runs a shell) until the test says go.
    const script = join(dir, "session.sql");
    await writeFile(
      script,
      [
        "select pg_backend_pid() as before \\gset",
        `\\! touch ${paused}; i=0; while [ ! -e ${go} ] && [ $i -lt 400 ]; do sleep 0.05; i=$((i+1)); done`,
        "select 'same backend: ' || (pg_backend_pid() = :before);",
        "",
      ].join("\n"),
    );
    const child = spawn(
      process.execPath,
      [
        ...cliArgs(),
        "run",
        "--hub",
        setup.socket,
        "--connect",
        `pg.run=127.0.0.1:${port}`,
        "--",
        ...psqlArgs(port, "-f", script),
      ],
      { cwd: root, env: cliEnv(PG_ENV) },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    try {
      await eventually(() => existsSync(paused), "psql to run its first query", 15_000);
      // The exposing process dies and the hub closes: only psql and PostgreSQL are left.
      await setup.close();
      await writeFile(go, "");
      const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
      const code = await exited;
      clearTimeout(timer);
      expect(stdout.trim()).toBe("same backend: true");
      expect(code, stderr).toBe(0);
      // The hub is gone: run says so and tries to reconnect, while psql goes on without it.
      expect(stderr).toMatch(/lost the hub at .*; reconnecting/);
    } finally {
      child.kill("SIGKILL");
      await setup.close();
    }
  }, 40_000);

  it("runs pgbench with every connection handed over", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    const setup = await startHubAndExposer("pg.bench");
    try {
      const port = await freePort();
      const database = pg.port;
      const common = ["-h", "127.0.0.1", "-p", String(port), "-U", pg.user];
      const running = beamhub(
        [
          "run",
          "--hub",
          setup.socket,
          "--connect",
          `pg.bench=${port}`,
          "--",
          "sh",
          "-c",
          `${pgTool("pgbench")} -i -s 1 -q ${common.join(" ")} ${pg.dbname} && ` +
            `${pgTool("pgbench")} -S -c 2 -j 2 -T 3 -n ${common.join(" ")} ${pg.dbname}`,
        ],
        { env: PG_ENV },
      );
      // While pgbench runs: its two connections are open to the database (each is listed at
      // both ends) and none to the port beamhub run listens on — they were handed over.
      await eventually(async () => (await establishedTcp(database)) >= 4, "pgbench's connections", 15_000);
      expect(await establishedTcp(port)).toBe(0);
      const result = await running;
      expect(result.code, result.stderr).toBe(0);
      expect(Number(/tps = ([\d.]+)/.exec(result.stdout)?.[1])).toBeGreaterThan(100);
    } finally {
      await setup.close();
    }
  }, 40_000);

  it("passes the command's exit code on, and fails a refused database's connect at once", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    const setup = await startHubAndExposer("pg.codes");
    try {
      const port = await freePort();
      const connectArgs = ["run", "--hub", setup.socket, "--connect", `pg.codes=${port}`, "--"];
      const seven = await beamhub([...connectArgs, "sh", "-c", "exit 7"]);
      expect(seven.code).toBe(7);
      // Only failures are printed, after the one line with run's PID.
      expect(seven.stderr.replace(/^beamhub run: pid \d+\n/, "")).toBe("");
      const missing = await beamhub([...connectArgs, "no-such-command-beamhub"]);
      expect(missing.code).toBe(127);
      expect(missing.stderr).toContain("cannot run no-such-command-beamhub: command not found");
      // SIGTERM to run reaches the command, whose exit code run then passes on; a lone SIGINT
      // (Ctrl-C reaches the command from the terminal) does not end run before its command.
      const trapping = await startCli(
        [
          ...connectArgs,
          "sh",
          "-c",
          'trap "echo got-term; exit 5" TERM; trap "" INT; echo ready; while :; do sleep 0.05; done',
        ],
        /ready/,
      );
      const runExited = new Promise<number | null>((resolve) => trapping.child.once("exit", resolve));
      trapping.child.kill("SIGINT");
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(trapping.child.exitCode).toBeNull();
      trapping.child.kill("SIGTERM");
      expect(await within(runExited, 10_000, "run to exit")).toBe(5);
      expect(trapping.stdout()).toContain("got-term");

      const stray = await beamhub(["run", "--hub", setup.socket, "--connect", `pg.codes=${port}`, "psql"]);
      expect(stray.code).toBe(2);
      expect(stray.stderr).toContain("put the command after --");

      // A service whose database refuses: psql's connect fails with the reason on its stderr.
      const closedPort = await freePort();
      const refusing = await spawnPeer(join(import.meta.dirname, "expose-peer.ts"), [
        setup.socket,
        "pg.down",
        `tcp://127.0.0.1:${closedPort}`,
      ]);
      try {
        const refused = await beamhub(
          [
            "run",
            "--hub",
            setup.socket,
            "--connect",
            `pg.down=${port}`,
            "--",
            ...psqlArgs(port, "-c", "select 1"),
          ],
          { env: PG_ENV },
        );
        expect(refused.code).toBe(2); // psql's "could not connect"
        expect(refused.stderr).toContain(
          `beamhub hand-off: cannot connect to upstream 127.0.0.1:${closedPort}: ECONNREFUSED`,
        );
        expect(refused.stderr).not.toContain("hand-off request failed"); // said once, by the library
      } finally {
        refusing.child.kill("SIGKILL");
      }
    } finally {
      await setup.close();
    }
  }, 60_000);

  it("beamhub connect --handoff-socket prints how to start a program that gets the socket itself", async (context) => {
    if (pg === undefined) return context.skip(skipReason);
    const setup = await startHubAndExposer("pg.connect");
    const port = await freePort();
    const connector = await startCli(
      [
        "connect",
        "pg.connect",
        "--hub",
        setup.socket,
        "--listen",
        String(port),
        "--handoff-socket",
        join(dir, "connect.sock"),
      ],
      /LD_PRELOAD=(\S+) BEAMHUB_HANDOFF='([^']+)'/,
    );
    try {
      const [, preload, routes] = connector.match;
      expect(routes).toBe(`127.0.0.1:${port}=${join(dir, "connect.sock")}`);
      const result = await run(psqlArgs(port)[0]!, [...psqlArgs(port).slice(1), "-c", "select 1"], {
        timeout: 15_000,
        env: { ...PG_ENV, LD_PRELOAD: preload, BEAMHUB_HANDOFF: routes },
      });
      expect(result.stdout.trim(), result.stderr).toBe("1");
      expect(connector.stderr()).toContain("handing connections over");
    } finally {
      await connector.stop();
      await setup.close();
    }
  }, 40_000);
});
