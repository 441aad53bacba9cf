// Runs examples/tasks.md as a reader would: the ```sh blocks in order (`beamhub serve` in the
// background until it is ready, then curl for real), and for each block followed by a ```text
// block, a check that every line shown there was printed. The page's port 8081 is swapped for a
// free one; the hub's socket, https listener and task log go to a temporary folder.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installBeamhubCommand } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";
import { freePort } from "../helpers/ports.js";

const root = join(import.meta.dirname, "..", "..");
const page = await readFile(join(root, "examples", "tasks.md"), "utf8");

/** The page's ```sh blocks, each with the ```text block that follows it, if any. */
const steps = [...page.matchAll(/```sh\n([\s\S]*?)```(?:\s*```text\n([\s\S]*?)```)?/g)].map((match) => ({
  code: match[1]!,
  output: match[2],
}));

let dir: string;
let env: NodeJS.ProcessEnv;
let port: number;
let hub: ChildProcess | undefined;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-tasks-page-"));
  port = await freePort();
  // `beamhub` on the PATH is this checkout's CLI, as `npm install -g` would make it.
  await installBeamhubCommand(dir);
  env = {
    ...process.env,
    PATH: `${dir}:${process.env.PATH ?? ""}`,
    BEAMHUB_SOCKET: join(dir, "hub.sock"),
    BEAMHUB_LISTEN_HTTPS: "127.0.0.1:0",
    BEAMHUB_CERT_DIR: join(dir, "cert"),
    BEAMHUB_TASKS_FILE: join(dir, "tasks.kvlog"),
  };
});

afterAll(async () => {
  hub?.kill("SIGINT");
  await rm(dir, { recursive: true, force: true });
});

function sh(code: string): Promise<string> {
  return within(
    new Promise((resolve, reject) => {
      execFile("sh", ["-ec", code], { cwd: root, env }, (error, stdout, stderr) =>
        error ? reject(Object.assign(error, { stderr })) : resolve(stdout),
      );
    }),
    20_000,
    code,
  );
}

describe("examples/tasks.md", () => {
  it("has the steps this test expects", () => {
    expect(steps[0]!.code).toContain("beamhub serve");
    expect(steps.length).toBe(5);
  });

  it("runs step by step", { timeout: 90_000 }, async () => {
    const [serve, ...rest] = steps.map((step) => ({
      ...step,
      code: step.code.replaceAll("8081", String(port)),
    }));
    hub = spawn("sh", ["-c", `exec env ${serve!.code.replace(/\\\n\s*/g, "")}`], { cwd: root, env });
    let log = "";
    await within(
      new Promise<void>((resolve, reject) => {
        const check = (chunk: Buffer): void => {
          log += chunk.toString();
          if (log.includes("press Ctrl-C")) resolve();
        };
        hub!.stderr!.on("data", check);
        hub!.stdout!.on("data", check);
        hub!.once("exit", (code) => reject(new Error(`beamhub serve exited (${code}): ${log}`)));
      }),
      30_000,
      "beamhub serve to be ready",
    );
    expect(log).toContain(`REST on http://127.0.0.1:${port}/v1/tasks`);
    for (const [index, step] of rest.entries()) {
      const printed = await sh(step.code);
      for (const line of (step.output ?? "").split("\n").filter((text) => text !== "")) {
        expect(printed, `step ${index + 2} prints ${line}`).toContain(line);
      }
    }
  });
});
