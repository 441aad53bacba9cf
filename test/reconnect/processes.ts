// Processes for the reconnection tests: a hub that is killed and restarted on the same socket
// path and port, and clients in processes of their own (prebuilt, see ../helpers/programs.ts).
// Every wait is bounded, generously: a start-up takes seconds on a busy machine.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { cliArgs, cliEnv, root } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

export { within };

const fixtures = join(import.meta.dirname, "fixtures");
const children = new Set<ChildProcessWithoutNullStreams>();
/** Bound on a process start-up. */
export const START_MS = 40_000;

/** Kills every process these helpers started and that is still running (for afterAll). */
export function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}

/** A child process and what it printed. */
export interface Child {
  child: ChildProcessWithoutNullStreams;
  /** stdout lines so far. */
  lines(): string[];
  stdout(): string;
  stderr(): string;
  /** Waits (bounded) for a stdout line matching `pattern`. */
  line(pattern: RegExp, what: string, ms?: number): Promise<string>;
  /** Waits (bounded) until stdout or stderr (`which`) matches `pattern`. */
  until(which: "stdout" | "stderr", pattern: RegExp, what: string, ms?: number): Promise<void>;
  /** Resolves with the exit code (null if a signal ended it). */
  exited: Promise<number | null>;
  /** SIGINT, then (bounded) the exit code; SIGKILL if it does not exit within 10 s. */
  stop(): Promise<number | null>;
}

function track(child: ChildProcessWithoutNullStreams, name: string): Child {
  children.add(child);
  let stdout = "";
  let stderr = "";
  const waiting = new Set<() => void>();
  const wake = (): void => {
    for (const check of waiting) check();
  };
  child.stdout.on("data", (chunk: Buffer) => {
    stdout += chunk.toString();
    wake();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
    wake();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const until = (which: "stdout" | "stderr", pattern: RegExp, what: string, ms = 20_000): Promise<void> =>
    within(
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (pattern.test(which === "stdout" ? stdout : stderr)) {
            waiting.delete(check);
            resolve();
          }
        };
        waiting.add(check);
        check();
        void exited.then((code) => {
          if (waiting.has(check)) reject(new Error(`${name} exited (${code}) before ${what}: ${stderr}`));
        });
      }),
      ms,
      `${what} (${name}; stderr so far: ${stderr})`,
    );
  return {
    child,
    lines: () => stdout.split("\n").filter(Boolean),
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    until,
    line: async (pattern, what, ms) => {
      await until("stdout", new RegExp(pattern.source, "m"), what, ms);
      return stdout.split("\n").find((line) => pattern.test(line))!;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      return within(exited, 10_000, `${name} to exit`).catch(() => {
        child.kill("SIGKILL");
        return null;
      });
    },
  };
}

function startFixture(script: string, args: string[]): Child {
  const child = spawn(process.execPath, [...nodeArgs(join(fixtures, script)), ...args], {
    stdio: "pipe",
  });
  return track(child, script);
}

/** Starts `beamhub <args>` and waits until stdout or stderr matches `ready`. */
export async function startBeamhub(args: string[], ready: RegExp): Promise<Child> {
  const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: root, env: cliEnv() });
  const running = track(child, `beamhub ${args[0]}`);
  await Promise.any([
    running.until("stdout", ready, `beamhub ${args[0]} to be ready`, START_MS),
    running.until("stderr", ready, `beamhub ${args[0]} to be ready`, START_MS),
  ]).catch((error: AggregateError) => {
    child.kill("SIGKILL");
    throw error.errors[0];
  });
  return running;
}

/** Starts the hub process; resolves once it listens on `socket` and on `port`. */
export async function startHub(socket: string, certDir: string, port: number): Promise<Child> {
  const hub = startFixture("hub.ts", [socket, certDir, String(port)]);
  await hub.line(/"url"/, "the hub to listen", START_MS);
  return hub;
}

/** Kills a process with SIGKILL (nothing is closed cleanly) and waits for it to go. */
export async function kill(process: Child): Promise<void> {
  process.child.kill("SIGKILL");
  await within(process.exited, 5000, "the process to die");
}

/** Starts the service process (see fixtures/service.ts); resolves once it registered. */
export async function startService(address: string, ca?: string, maxAttempts?: number): Promise<Child> {
  const service = startFixture("service.ts", [address, ca ?? "-", String(maxAttempts ?? "-")]);
  await service.line(/"ready"/, "the service to register", START_MS);
  return service;
}
