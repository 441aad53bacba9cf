// Child processes for the freeze tests: started from their prebuilt bundles, read line by line, frozen and
// thawed with SIGSTOP/SIGCONT, always killed at the end. Every wait is bounded.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

export { within };

/** A running child process and the lines it printed. */
export interface Child {
  readonly process: ChildProcessWithoutNullStreams;
  /** Every line printed on stdout so far. */
  readonly lines: string[];
  /** The first line (printed so far or later) matching `pattern`, waiting at most `ms`. */
  line(pattern: RegExp, ms: number): Promise<string>;
  /** SIGSTOP: the process stops dead, as a hung or swapped-out one would. */
  freeze(): void;
  /** SIGCONT. */
  thaw(): void;
  /** Kills it (SIGKILL, after a SIGCONT-less freeze too) and waits for it to exit. */
  kill(): Promise<void>;
}

const running = new Set<Child>();

/** Starts `script` (TypeScript) with `args` and waits (at most 15 s) for its first line. */
export async function startChild(script: string, args: string[]): Promise<Child> {
  const child = spawn(process.execPath, [...nodeArgs(script), ...args], { stdio: "pipe" });
  child.stderr.pipe(process.stderr);
  const lines: string[] = [];
  let waiting: (() => void)[] = [];
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    const parts = buffered.split("\n");
    buffered = parts.pop()!;
    lines.push(...parts);
    for (const wake of waiting) wake();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const handle: Child = {
    process: child,
    lines,
    line: (pattern, ms) =>
      within(
        new Promise<string>((resolve, reject) => {
          const check = (): void => {
            const found = lines.find((line) => pattern.test(line));
            if (found !== undefined) {
              waiting = waiting.filter((wake) => wake !== check);
              resolve(found);
            }
          };
          waiting.push(check);
          void exited.then(() => {
            check();
            reject(
              new Error(`the process exited before printing ${pattern}; it printed ${JSON.stringify(lines)}`),
            );
          });
          check();
        }),
        ms,
        `a line matching ${pattern} (so far: ${JSON.stringify(lines)})`,
      ),
    freeze: () => void child.kill("SIGSTOP"),
    thaw: () => void child.kill("SIGCONT"),
    kill: async () => {
      running.delete(handle);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await within(exited, 5000, "the process to exit");
    },
  };
  running.add(handle);
  await handle.line(/./, 15_000);
  return handle;
}

/** Kills every child still running (for afterAll). */
export async function killAll(): Promise<void> {
  await Promise.all([...running].map((child) => child.kill()));
}
