/**
 * Forking a bench's helper process (through tsx, with `--cpu-prof` when CPU_PROF names a
 * directory) and talking to it over IPC, every wait bounded.
 * @module
 */
import { fork, type ChildProcess } from "node:child_process";

/** A forked helper: `request` sends a message and waits (bounded) for its next answer. */
export interface Child {
  readonly process: ChildProcess;
  request<Answer>(message: unknown, timeoutMs?: number): Promise<Answer>;
  /** Asks it to stop ("stop"), then kills it if it has not exited within 10 s. */
  stop(): Promise<void>;
}

/**
 * Forks `file` (a .ts module, run through tsx; or, with `tsx: false`, a plain JavaScript bundle) as
 * a helper process, with `nodeFlags` (such as `--expose-gc`).
 */
export function forkChild(file: string, nodeFlags: string[] = [], { tsx = true } = {}): Child {
  const profile = process.env.CPU_PROF;
  const child = fork(file, [], {
    execArgv: [
      ...(tsx ? ["--import", "tsx"] : []),
      ...nodeFlags,
      ...(profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : []),
    ],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    process: child,
    request: <Answer>(message: unknown, timeoutMs = 120_000) =>
      new Promise<Answer>((resolve, reject) => {
        const settle = (): void => {
          clearTimeout(timer);
          child.off("message", onMessage);
          child.off("exit", onExit);
        };
        const timer = setTimeout(() => {
          settle();
          reject(new Error(`${file} did not answer ${JSON.stringify(message)} within ${timeoutMs} ms`));
        }, timeoutMs);
        const onMessage = (answer: unknown): void => {
          settle();
          resolve(answer as Answer);
        };
        const onExit = (code: number | null): void => {
          settle();
          reject(new Error(`${file} exited (${code}) before answering`));
        };
        child.once("message", onMessage);
        child.once("exit", onExit);
        child.send(message as object);
      }),
    stop: async () => {
      if (child.exitCode !== null) return;
      child.send("stop");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
