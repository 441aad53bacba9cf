// Running the beamhub command as a user would: real processes (the command bundled once per run
// by the global set-up, see ../helpers/programs.ts), a real `beamhub serve`, every wait bounded.
import { execFile, spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chmod, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo, type Server } from "node:net";
import { join } from "node:path";
import type { CliConfig } from "../../cli/config.js";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

export { within };

export const root = join(import.meta.dirname, "../..");
/** The command's source (for tests of how it starts: through tsx, through a symbolic link). */
export const cli = join(root, "cli/main.ts");

/** The arguments after `node` that run the beamhub command (its prebuilt bundle). */
export function cliArgs(): string[] {
  return nodeArgs("cli/main.ts");
}

/** The environment of a CLI run: this one's without BEAMHUB_* (a developer's own hub settings), plus `extra`. */
export function cliEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("BEAMHUB_")),
  );
  return { ...env, ...extra };
}

/**
 * Writes `<dir>/beamhub`, a shell script that runs this checkout's command, for tests that put
 * `dir` on the PATH as `npm install -g` would (it runs built JavaScript there too, not TypeScript).
 */
export async function installBeamhubCommand(dir: string): Promise<void> {
  const words = [process.execPath, ...cliArgs()].map((word) => `"${word}"`).join(" ");
  await writeFile(join(dir, "beamhub"), `#!/bin/sh\nexec ${words} "$@"\n`);
  await chmod(join(dir, "beamhub"), 0o755);
}

/** Runs `beamhub <args>` to completion (at most 20 s), with `input` on stdin. */
export function beamhub(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(
      process.execPath,
      [...cliArgs(), ...args],
      { cwd: root, timeout: 20_000, env: cliEnv(options.env) },
      (error, stdout, stderr) =>
        resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    child.stdin!.end(options.input);
  });
}

/** A long-running `beamhub <args>` and what it has printed so far. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams;
  stdout(): string;
  stderr(): string;
  /** Sends SIGINT and waits (bounded) for the process to exit. */
  stop(): Promise<void>;
}

/** Starts `beamhub <args>` and waits (at most 15 s) until its stderr or stdout matches `ready`. */
export async function startCli(
  args: string[],
  ready: RegExp,
  env: Record<string, string> = {},
): Promise<RunningCli & { match: RegExpMatchArray }> {
  const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: root, env: cliEnv(env) });
  let stdout = "";
  let stderr = "";
  let check = (): void => undefined;
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    check();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    check();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const running: RunningCli = {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await within(exited, 5000, `beamhub ${args[0]} to exit`).catch(() => child.kill("SIGKILL"));
    },
  };
  try {
    const match = await within(
      new Promise<RegExpMatchArray>((resolve, reject) => {
        check = () => {
          const found = stderr.match(ready) ?? stdout.match(ready);
          if (found) resolve(found);
        };
        check();
        child.once("exit", (code) => reject(new Error(`beamhub ${args[0]} exited (${code}): ${stderr}`)));
      }),
      15_000,
      `beamhub ${args[0]} to be ready`,
    );
    return { ...running, match };
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
}

/**
 * Starts `beamhub serve` on `socket` and an https listener on a free loopback port, with
 * `extra` flags and `env` variables besides.
 */
export async function startServe(
  socket: string,
  certDir: string,
  extra: string[] = [],
  env: Record<string, string> = {},
): Promise<RunningCli & { httpsUrl: string }> {
  const running = await startCli(
    ["serve", "--socket", socket, "--listen-https", "127.0.0.1:0", "--cert-dir", certDir, ...extra],
    /press Ctrl-C/,
    env,
  );
  const httpsUrl = running.stderr().match(/serving on (https:\/\/127\.0\.0\.1:\d+)/)?.[1];
  if (httpsUrl === undefined) throw new Error(`beamhub serve printed no https URL: ${running.stderr()}`);
  return { ...running, httpsUrl };
}

/** A TCP echo server on a free loopback port, standing in for a database behind the gateway. */
export async function startEchoServer(): Promise<{ server: Server; port: number }> {
  const server = createServer((socket) => {
    socket.on("error", () => socket.destroy()); // a reset is the test's to report, not a crash
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/**
 * The client configuration `serve`'s option tests resolve against: a Unix hub at
 * `<dir>/hub.sock`, a development certificate directory in `dir`, and `file` as the config file.
 */
export function testConfig(dir: string, file: Record<string, unknown> = {}): CliConfig {
  const socket = join(dir, "hub.sock");
  return {
    hub: { kind: "unix", path: socket, text: `unix://${socket}` },
    hubSource: "test",
    socket,
    timeout: 1000,
    reconnect: { maxAttempts: Infinity, giveUpAfter: Infinity },
    tls: { transport: "auto", certDir: join(dir, "dev-cert") },
    file,
  };
}
