// Processes for the reconnection tests: a hub that is killed and restarted on the same socket
// path and port, and clients in processes of their own. Every wait is bounded.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { within } from "../compliance/suite.js";

export { within };

const fixtures = join(import.meta.dirname, "fixtures");
const children = new Set<ChildProcessWithoutNullStreams>();

/** Kills every process these helpers started and that is still running (for afterAll). */
export function killAll(): void {
  for (const child of children) child.kill("SIGKILL");
}

/** A child process and its stdout, line by line. */
export interface Child {
  child: ChildProcessWithoutNullStreams;
  /** Lines printed so far. */
  lines(): string[];
  /** Waits (bounded) for a line matching `pattern` printed after the first `skip` lines. */
  line(pattern: RegExp, what: string, ms?: number, skip?: number): Promise<string>;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

function start(script: string, args: string[]): Child {
  const child = spawn(process.execPath, ["--import", "tsx", join(fixtures, script), ...args], {
    stdio: "pipe",
  });
  children.add(child);
  child.stderr.pipe(process.stderr);
  const lines: string[] = [];
  let buffered = "";
  const waiting = new Set<() => void>();
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const check of waiting) check();
  });
  const exited = new Promise<number | null>((resolve) =>
    child.once("exit", (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  return {
    child,
    lines: () => lines,
    exited,
    line: (pattern, what, ms = 15_000, skip = 0) =>
      within(
        new Promise<string>((resolve, reject) => {
          const check = (): void => {
            const found = lines.slice(skip).find((line) => pattern.test(line));
            if (found !== undefined) {
              waiting.delete(check);
              resolve(found);
            }
          };
          waiting.add(check);
          check();
          void exited.then((code) => reject(new Error(`${script} exited (${code}) before ${what}`)));
        }),
        ms,
        what,
      ),
  };
}

/** Starts the hub process; resolves once it listens on `socket` and on `port`. */
export async function startHub(socket: string, certDir: string, port: number): Promise<Child> {
  const hub = start("hub.ts", [socket, certDir, String(port)]);
  await hub.line(/"url"/, "the hub to listen");
  return hub;
}

/** Kills the hub process with SIGKILL (nothing is closed cleanly) and waits for it to go. */
export async function killHub(hub: Child): Promise<void> {
  hub.child.kill("SIGKILL");
  await within(hub.exited, 5000, "the hub process to die");
}

/** Starts the service process (see fixtures/service.ts); resolves once it registered. */
export async function startService(address: string, ca?: string, maxAttempts?: number): Promise<Child> {
  const service = start("service.ts", [address, ca ?? "-", String(maxAttempts ?? "-")]);
  await service.line(/"ready"/, "the service to register");
  return service;
}
