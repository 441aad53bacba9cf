// A stop signal that arrives twice (a terminal's Ctrl-C, echoed by npm) shuts down once and
// cleanly; a repeat long after still forces a stuck shutdown. Real processes, real signals; the
// whole path through npm is test/ops/npm-wrappers.test.ts.
import { spawn, type ChildProcessByStdio } from "node:child_process";
import type { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { cliEnv, root, within } from "./helpers.js";

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A command that serves (an interval stands in for its listener) until its first stop signal,
 * then shuts down for `shutdownMs` and exits 0; ready once it has printed "ready".
 */
async function startCommand(shutdownMs: number): Promise<{
  child: ChildProcessByStdio<null, null, Readable>;
  exited: Promise<[number | null, NodeJS.Signals | null]>;
  stderr(): string;
  kill(): void;
}> {
  const program = [
    'import { firstStopSignal } from "./cli/stop-signals.ts";',
    "const first = firstStopSignal((line) => console.error(line));",
    "setInterval(() => undefined, 1000);",
    'console.error("ready");',
    "console.error(`${await first}: shutting down`);",
    `await new Promise((resolve) => setTimeout(resolve, ${shutdownMs}));`,
    'console.error("stopped");',
    "process.exit(0);",
  ].join("\n");
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", program], {
    cwd: root,
    env: cliEnv(),
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.once("exit", (code, signal) => resolve([code, signal])),
  );
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const deadline = Date.now() + 15_000;
  while (!stderr.includes("ready")) {
    if (Date.now() > deadline || child.exitCode !== null) {
      kill();
      throw new Error(`the command did not start: ${stderr}`);
    }
    await sleep(50);
  }
  return { child, exited, stderr: () => stderr, kill };
}

describe("stop signals", () => {
  it("a repeat within the grace period is the same request: the shutdown goes on and ends cleanly", async () => {
    const command = await startCommand(1500);
    try {
      command.child.kill("SIGINT");
      await sleep(50);
      command.child.kill("SIGINT"); // npm's echo of the terminal's Ctrl-C
      expect(await within(command.exited, 10_000, "the command to exit")).toEqual([0, null]);
      expect(command.stderr()).toMatch(/SIGINT: shutting down\nstopped\n/);
      expect(command.stderr()).not.toContain("again");
    } finally {
      command.kill();
    }
  });

  it("a repeat after the grace period stops a stuck shutdown at once, with 128 + the signal", async () => {
    const command = await startCommand(20_000);
    try {
      command.child.kill("SIGTERM");
      await sleep(50);
      command.child.kill("SIGTERM"); // within the grace: the same request
      await sleep(1500);
      expect(command.child.exitCode).toBeNull();
      command.child.kill("SIGTERM"); // after it: forced
      expect(await within(command.exited, 5000, "the command to exit")).toEqual([143, null]);
      expect(command.stderr()).toMatch(/SIGTERM: shutting down\nSIGTERM again: stopping at once\n/);
      expect(command.stderr()).not.toContain("stopped");
    } finally {
      command.kill();
    }
  });
});
