// Runs an examples/*.md page as a reader would: its ```sh blocks in order — those the page says
// to start "in its own terminal" in the background until the first line of their ```text block
// shows up, the others to completion with every line of their ```text block in their output —
// in a temporary directory whose PATH has this checkout's `beamhub`.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { installBeamhubCommand } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";

const root = join(import.meta.dirname, "..", "..");

/** One ```sh block of a page. */
export interface PageStep {
  readonly code: string;
  /** The ```text block after it: lines its output must contain. */
  readonly output: string | undefined;
  /** The page says to run it in its own terminal: it keeps running. */
  readonly background: boolean;
}

/** A page being run, in its own directory. */
export class ExamplePage {
  readonly #background: ChildProcess[] = [];

  private constructor(
    readonly steps: readonly PageStep[],
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  /**
   * Reads `examples/<name>` and prepares a directory for it: `beamhub` on the PATH (this checkout's
   * CLI, as `npm install -g` would make it), HOME there, no BEAMHUB_* settings from outside, and a
   * node_modules where `import "beamhub"` finds this checkout's build.
   */
  static async open(name: string): Promise<ExamplePage> {
    const page = await readFile(join(root, "examples", name), "utf8");
    const steps = [
      ...page.matchAll(
        /([*_]In its own terminal:[*_]\s*)?```sh\n([\s\S]*?)```(?:\s*```text\n([\s\S]*?)```)?/g,
      ),
    ].map((match) => ({ background: match[1] !== undefined, code: match[2]!, output: match[3] }));
    const dir = await mkdtemp(join(tmpdir(), `beamhub-page-${name.replace(/\W/g, "-")}-`));
    await installBeamhubCommand(dir);
    await mkdir(join(dir, "node_modules"));
    await symlink(root, join(dir, "node_modules", "beamhub"));
    await symlink(join(root, "node_modules", "@nats-io"), join(dir, "node_modules", "@nats-io"));
    const clean = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !key.startsWith("BEAMHUB_")),
    );
    return new ExamplePage(steps, dir, { ...clean, PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: dir });
  }

  /** Runs `code` with sh to completion (bounded); resolves to its output. */
  sh(code: string, ms = 60_000): Promise<string> {
    return within(
      new Promise((resolve, reject) => {
        execFile("sh", ["-ec", code], { cwd: this.dir, env: this.env }, (error, stdout, stderr) =>
          error
            ? reject(Object.assign(error, { message: `${error.message}\n${stdout}${stderr}` }))
            : resolve(stdout + stderr),
        );
      }),
      ms,
      code,
    );
  }

  /** Starts `code` in the background; resolves once its output has `ready` in it (bounded). */
  start(code: string, ready: string, ms = 30_000): Promise<void> {
    const child = spawn("sh", ["-c", `exec ${code.trim()}`], { cwd: this.dir, env: this.env });
    this.#background.push(child);
    let log = "";
    return within(
      new Promise<void>((resolve, reject) => {
        const check = (chunk: Buffer): void => {
          log += chunk.toString();
          if (log.includes(ready)) resolve();
        };
        child.stdout.on("data", check);
        child.stderr.on("data", check);
        child.once("exit", (status) =>
          reject(new Error(`${code} exited (${status}) before "${ready}": ${log}`)),
        );
      }),
      ms,
      `"${ready}" from ${code}`,
    );
  }

  /**
   * Runs every step; `place` rewrites the page's text (its ports for free ones). A step whose
   * output lacks a line is run again for a while: a listing may take a moment to show a service.
   */
  async run(
    place: (text: string) => string,
    check: (output: string, line: string, code: string) => void,
  ): Promise<void> {
    for (const step of this.steps) {
      const code = place(step.code);
      if (step.background) {
        // A block that prepares something first (mkdir, a heredoc) runs that part to completion;
        // its last line keeps running.
        const lines = code.trim().split("\n");
        if (lines.length > 1) await this.sh(lines.slice(0, -1).join("\n"));
        await this.start(lines.at(-1)!, place(step.output!.trim().split("\n")[0]!));
        continue;
      }
      const lines = (step.output ?? "").split("\n").filter((line) => line !== "");
      let output = "";
      // Bounded by time, not by tries: a try of the bundled command takes a fraction of a second.
      const until = Date.now() + 60_000;
      while (Date.now() < until) {
        output = await this.sh(code);
        if (lines.every((line) => output.includes(place(line)))) break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      for (const line of lines) check(output, place(line), code);
    }
  }

  /** Stops what runs in the background (SIGINT, then SIGKILL) and removes the directory. */
  async close(): Promise<void> {
    for (const child of this.#background.reverse()) child.kill("SIGINT");
    await new Promise((resolve) => setTimeout(resolve, 500));
    for (const child of this.#background) if (child.exitCode === null) child.kill("SIGKILL");
    await rm(this.dir, { recursive: true, force: true });
  }
}
