// `beamhub serve --cluster` whose join fails must not go on serving half a hub: it prints why and
// exits non-zero, removing its socket (a report saw it print the error and keep running).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliArgs, cliEnv, root, within } from "../cli/helpers.js";
import { freePorts } from "../helpers/ports.js";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-join-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs `beamhub <args>` until it exits by itself (killed after `ms`: that is the failure). */
async function runToExit(
  args: string[],
  ms: number,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const child = spawn(process.execPath, [...cliArgs(), ...args], { cwd: root, env: cliEnv() });
  let output = "";
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  try {
    return { ...(await within(exited, ms, `beamhub ${args[0]} to exit (it said: ${output})`)), output };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}

describe("beamhub serve --cluster, when joining fails", () => {
  it("NATS unreachable: prints the cause and exits 1, its socket removed", async () => {
    const [port] = await freePorts(1);
    const socket = join(dir, "hub.sock");
    const { code, signal, output } = await runToExit(
      [
        "serve",
        "--listen-https",
        "off",
        "--socket",
        socket,
        "--cluster",
        `nats://127.0.0.1:${port}`,
        "--hub-name",
        "lonely",
      ],
      20_000,
    );
    expect(signal).toBeNull();
    expect(code).toBe(1);
    expect(output).toMatch(new RegExp(`cluster: cannot connect to NATS at nats://127\\.0\\.0\\.1:${port}`));
    expect(output).not.toMatch(/press Ctrl-C/);
    expect(existsSync(socket)).toBe(false);
  }, 30_000);
});
