// The hub as operators run it: through npm (`npm start`, `npm run -s beamhub`), stopped by a
// signal sent to the PID they see (npm's), its output read by scripts. Real npm, real processes.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliEnv, root, startServe, within, type RunningCli } from "../cli/helpers.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-npm-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== "ESRCH";
  }
}

/** Whether something accepts TCP connections on the loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(true); // a port that neither accepts nor refuses is still held
    });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Polls `condition` every 50 ms until it holds, for at most `ms`. */
async function until(condition: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Runs `npm <args>` in the repository to completion (at most 30 s). */
function npm(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("npm", args, { cwd: root, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`npm ${args.join(" ")} did not finish within 30 s: ${stderr}`));
    }, 30_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A running `npm start` in its own process group, and the hub's pid from its pid line. */
async function npmStart(socket: string): Promise<{
  npm: ChildProcess;
  hubPid: number;
  port: number;
  stderr(): string;
  exited: Promise<void>;
  cleanup(): void;
}> {
  // Its own process group: a terminal's Ctrl-C can be imitated, and whatever is left cleaned up.
  const npm = spawn(
    "npm",
    ["start", "--", "--socket", socket, "--listen-https", "127.0.0.1:0", "--cert-dir", join(dir, "cert")],
    { cwd: root, env: cliEnv(), stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let stderr = "";
  npm.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => npm.once("exit", () => resolve()));
  let hubPid: number | undefined;
  const cleanup = (): void => {
    if (npm.exitCode === null && npm.signalCode === null) process.kill(-npm.pid!, "SIGKILL");
    if (hubPid !== undefined && alive(hubPid)) process.kill(hubPid, "SIGKILL");
  };
  try {
    await until(() => /press Ctrl-C/.test(stderr), 20_000, `npm start to serve (stderr: ${stderr})`);
    const pid = stderr.match(/^beamhub serve: pid (\d+)$/m)?.[1];
    if (pid === undefined) throw new Error(`no pid line in: ${stderr}`);
    hubPid = Number(pid);
    const port = Number(stderr.match(/serving on https:\/\/127\.0\.0\.1:(\d+)/)?.[1]);
    return { npm, hubPid, port, stderr: () => stderr, exited, cleanup };
  } catch (error) {
    cleanup();
    throw error;
  }
}

describe("npm start", () => {
  it("passes SIGTERM on to the hub: the hub stops, its socket file and port are released", async () => {
    const socket = join(dir, "term.sock");
    const started = await npmStart(socket);
    const { npm, hubPid, port } = started;
    try {
      expect(hubPid).not.toBe(npm.pid); // the hub runs under npm, which is what users signal
      expect(alive(hubPid)).toBe(true);
      expect(existsSync(socket)).toBe(true);
      expect(await listening(port)).toBe(true);

      npm.kill("SIGTERM");
      await within(started.exited, 10_000, "npm to exit after SIGTERM");
      await until(() => !alive(hubPid), 10_000, `the hub (pid ${hubPid}) to exit`);
      expect(existsSync(socket)).toBe(false);
      expect(await listening(port)).toBe(false);
      expect(started.stderr()).toMatch(/SIGTERM: shutting down\nstopped\n/);
    } finally {
      started.cleanup();
    }
  }, 60_000);

  it("stops cleanly on Ctrl-C, which reaches the hub twice (from the terminal, and from npm)", async () => {
    const socket = join(dir, "int.sock");
    const started = await npmStart(socket);
    const { npm, hubPid, port } = started;
    try {
      process.kill(-npm.pid!, "SIGINT"); // a terminal sends it to the whole foreground group
      await within(started.exited, 10_000, "npm to exit after SIGINT");
      await until(() => !alive(hubPid), 10_000, `the hub (pid ${hubPid}) to exit`);
      expect(started.stderr()).toMatch(/SIGINT: shutting down\nstopped\n/);
      expect(existsSync(socket)).toBe(false);
      expect(await listening(port)).toBe(false);
    } finally {
      started.cleanup();
    }
  }, 60_000);
});

describe("npm run -s beamhub", () => {
  let server: (RunningCli & { httpsUrl: string }) | undefined;
  afterAll(async () => {
    await server?.stop();
  });

  it("prints only the command's output: --json stays JSON", async () => {
    const socket = join(dir, "run.sock");
    server = await startServe(socket, join(dir, "cert"));
    const listed = await npm(["run", "-s", "beamhub", "--", "ls", "--json", "--socket", socket]);
    expect(listed.code, listed.stderr).toBe(0);
    const services = JSON.parse(listed.stdout) as { name: string }[];
    expect(services.map((service) => service.name)).toContain("hub.info");
  }, 60_000);

  it("is how the README runs the command in this repository", async () => {
    const readme = await readFile(join(root, "README.md"), "utf8");
    // Without -s, npm prints its "> beamhub@x beamhub" banner into the command's stdout.
    expect(readme).not.toMatch(/npm run beamhub\b/);
    expect(readme).toMatch(/npm run -s beamhub --/);
  });
});
