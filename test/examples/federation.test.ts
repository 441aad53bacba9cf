// Runs examples/federation.md as a reader would, on loopback: the ```sh blocks in order, those
// the page says to start "in its own terminal" in the background until the line of their ```text
// block shows up, the others to completion with every line of their ```text block checked in
// their output. The page's ports 8443, 8000 and 18000 are swapped for free ones.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installBeamhubCommand } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";
import { freePorts } from "../helpers/ports.js";

const root = join(import.meta.dirname, "..", "..");
const page = await readFile(join(root, "examples", "federation.md"), "utf8");

/** The page's ```sh blocks: the code, the ```text block after it, and whether it keeps running. */
const steps = [
  ...page.matchAll(/([*_]In its own terminal:[*_]\s*)?```sh\n([\s\S]*?)```(?:\s*```text\n([\s\S]*?)```)?/g),
].map((match) => ({ background: match[1] !== undefined, code: match[2]!, output: match[3] }));

let dir: string;
let env: NodeJS.ProcessEnv;
const background: ChildProcess[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-federation-page-"));
  // `beamhub` on the PATH is this checkout's CLI, as `npm install -g` would make it.
  await installBeamhubCommand(dir);
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith("BEAMHUB_")),
  );
  env = { ...clean, PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: dir };
});

afterAll(async () => {
  for (const child of background.reverse()) child.kill("SIGINT");
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const child of background) if (child.exitCode === null) child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

function sh(code: string): Promise<string> {
  return within(
    new Promise((resolve, reject) => {
      execFile("sh", ["-ec", code], { cwd: dir, env }, (error, stdout, stderr) =>
        error ? reject(Object.assign(error, { stderr })) : resolve(stdout + stderr),
      );
    }),
    180_000,
    code,
  );
}

/** Starts `code` in the background and resolves once its output has `ready` in it. */
function start(code: string, ready: string): Promise<void> {
  // Through env: a step may set variables first (APP_app1_KEY=... beamhub serve ...).
  const child = spawn("sh", ["-c", `exec env ${code.trim()}`], { cwd: dir, env });
  background.push(child);
  let log = "";
  return within(
    new Promise<void>((resolve, reject) => {
      const check = (chunk: Buffer): void => {
        log += chunk.toString();
        if (log.includes(ready)) resolve();
      };
      child.stdout!.on("data", check);
      child.stderr!.on("data", check);
      child.once("exit", (code) => reject(new Error(`${code} exited (${code}) before "${ready}": ${log}`)));
    }),
    120_000,
    `"${ready}" from ${code}`,
  );
}

describe("examples/federation.md", () => {
  it("has the steps this test expects", () => {
    expect(steps.filter((step) => step.background).length).toBe(6);
    expect(steps.every((step) => !step.background || step.output !== undefined)).toBe(true);
  });

  it("runs step by step", { timeout: 580_000 }, async () => {
    const [broker, web, local, app1, app2] = await freePorts(5);
    const place = (code: string): string =>
      code
        .replaceAll("18000", String(local))
        .replaceAll("8081", String(app1))
        .replaceAll("8082", String(app2))
        .replaceAll("8443", String(broker))
        .replaceAll("8000", String(web));
    for (const step of steps) {
      const code = place(step.code);
      if (step.background) {
        const [first, ...more] = code.trim().split("\n");
        // A block that prepares something first (mkdir, echo) runs that part to completion.
        if (more.length > 0) await sh(first!);
        await start(more.length > 0 ? more.join("\n") : code, place(step.output!.trim().split("\n")[0]!));
        continue;
      }
      let output = "";
      // A listing may take a while to show a service another site has just registered: the tunnel
      // between the sites is retried with backoff while the other site is still joining. Bounded
      // by time, not by tries: with the bundled command a try takes a fraction of a second.
      const until = Date.now() + 60_000;
      while (Date.now() < until) {
        output = await sh(code);
        const missing = (step.output ?? "")
          .split("\n")
          .filter((line) => line !== "" && !output.includes(place(line)));
        if (missing.length === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      for (const line of (step.output ?? "").split("\n").filter((line) => line !== ""))
        expect(output, `the output of:\n${code}`).toContain(place(line));
    }
  });
});
