// Runs examples/fd-passing.ts as a real process tree (a front and its worker processes) and
// talks to it over real TCP connections.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const example = join(repoRoot, "examples", "fd-passing.ts");

/** Rejects if `promise` does not settle within `ms` (the label is read then, so it can show late output). */
function within<T>(ms: number, label: string | (() => string), promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    const describe = (): string => (typeof label === "string" ? label : label());
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${describe()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** True while a process with this pid exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface Front {
  child: ChildProcess;
  port: number;
  workerPids: number[];
  hubPath: string;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started: Front[] = [];

/** Starts the example and resolves once it listens on TCP with its workers ready. */
async function startFront(args: string[]): Promise<Front> {
  const child = spawn(process.execPath, ["--import", "tsx", example, ...args], {
    cwd: repoRoot,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  const front: Front = { child, port: 0, workerPids: [], hubPath: "", output: () => output, exited };
  started.push(front);

  const listening = new Promise<void>((resolve, reject) => {
    const check = (): void => {
      const port = /front: listening on 127\.0\.0\.1:(\d+)/.exec(output);
      if (!port) return;
      child.stdout.off("data", check);
      front.port = Number(port[1]);
      front.workerPids = (/workers ready \(pids ([\d, ]+)\)/.exec(output)?.[1] ?? "").split(", ").map(Number);
      front.hubPath = /hub on unix:(\S+)/.exec(output)?.[1] ?? "";
      resolve();
    };
    child.stdout.on("data", check);
    void exited.then(() => reject(new Error(`the example exited during startup:\n${output}`)));
  });
  // The front and its two workers each start through tsx, one after another: at a load average of
  // 20 on 2 cores that took more than 15 s (a full suite run failed here).
  await within(60_000, () => `the example to listen:\n${output}`, listening);
  return front;
}

/** Connects, sends one line, and resolves with everything the server sends until it hangs up. */
function ask(port: number, line: string): Promise<string> {
  const reply = new Promise<string>((resolve, reject) => {
    let text = "";
    const socket = connect(port, "127.0.0.1", () => socket.write(`${line}\n`));
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.once("end", () => resolve(text));
    socket.once("error", reject);
  });
  return within(5_000, `an answer to "${line}"`, reply);
}

afterEach(() => {
  // Whatever a failed test left running goes, workers included.
  for (const front of started.splice(0)) {
    if (front.child.exitCode === null && front.child.signalCode === null) front.child.kill("SIGKILL");
    for (const pid of front.workerPids) if (pid > 0 && alive(pid)) process.kill(pid, "SIGKILL");
    // A killed front cannot remove its temp dir (its workers exit by themselves: their session ends).
    const hubPath = /hub on unix:(\S+)/.exec(front.output())?.[1];
    if (hubPath !== undefined) rmSync(dirname(hubPath), { recursive: true, force: true });
  }
});

describe("examples/fd-passing.ts", () => {
  it(
    "hands each TCP client to a worker process that answers it directly, then exits cleanly",
    { timeout: 90_000 },
    async () => {
      const front = await startFront(["--once", "6", "--workers", "2"]);
      expect(front.workerPids).toHaveLength(2);
      expect(front.workerPids.every((pid) => pid > 0 && alive(pid))).toBe(true);
      expect(existsSync(front.hubPath)).toBe(true);

      const lines = Array.from({ length: 6 }, (_, i) => `ping ${i}`);
      const replies = await Promise.all(lines.map((line) => ask(front.port, line)));

      const answeredBy = new Set<number>();
      replies.forEach((reply, i) => {
        const match = /^hello from worker (\d+): (.*)\n$/.exec(reply);
        expect(match, `reply ${i}: ${JSON.stringify(reply)}`).not.toBeNull();
        expect(match![2]).toBe(lines[i]);
        answeredBy.add(Number(match![1]));
      });
      // Every answer came from one of the workers, and the hub balanced the clients across them.
      expect([...answeredBy].every((pid) => front.workerPids.includes(pid))).toBe(true);
      expect(answeredBy.size).toBeGreaterThanOrEqual(2);

      // --once 6: it stops by itself, with its workers and its socket file.
      const exit = await within(10_000, () => `the example to exit:\n${front.output()}`, front.exited);
      expect(exit, front.output()).toEqual({ code: 0, signal: null });
      expect(front.workerPids.filter(alive)).toEqual([]);
      expect(existsSync(front.hubPath)).toBe(false);
      expect(front.output()).toContain("front: stopped");
    },
  );

  it("stops on SIGTERM, workers and socket file included", { timeout: 90_000 }, async () => {
    const front = await startFront(["--workers", "2"]);
    expect(await ask(front.port, "before the signal")).toMatch(
      /^hello from worker \d+: before the signal\n$/,
    );

    front.child.kill("SIGTERM");
    const exit = await within(10_000, () => `the example to exit:\n${front.output()}`, front.exited);
    expect(exit, front.output()).toEqual({ code: 0, signal: null });
    expect(front.workerPids.filter(alive)).toEqual([]);
    expect(existsSync(front.hubPath)).toBe(false);
  });
});
