// Runs an examples/*.md page as a reader would: its ```sh blocks in order — those the page says
// to start "in its own terminal" in the background until the first line of their ```text block
// shows up, the others to completion with every line of their ```text block in their output —
// in a temporary directory whose PATH has this checkout's `beamhub`.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from "node:fs/promises";
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

/** How a page is run. */
export interface ExamplePageOptions {
  /** Settings added to the environment, given the page's directory (e.g. a socket in it). */
  readonly env?: (dir: string) => Record<string, string>;
  /** The bound on one step run to completion (default 60 s). */
  readonly stepMs?: number;
  /** The bound on a background step printing its ready line (default 30 s). */
  readonly startMs?: number;
}

/** A page being run, in its own directory. */
export class ExamplePage {
  readonly #background: ChildProcess[] = [];

  private constructor(
    readonly steps: readonly PageStep[],
    readonly dir: string,
    readonly env: NodeJS.ProcessEnv,
    readonly options: ExamplePageOptions,
  ) {}

  /**
   * Reads `examples/<name>` and prepares a directory for it: `beamhub` on the PATH (this checkout's
   * CLI, as `npm install -g` would make it), HOME there, no BEAMHUB_* settings from outside, and a
   * node_modules where `import "beamhub"` finds this checkout's build.
   */
  static async open(name: string, options: ExamplePageOptions = {}): Promise<ExamplePage> {
    const page = await readFile(join(root, "examples", name), "utf8");
    if (page.includes('from "beamhub')) await checkBuildIsCurrent();
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
    const env = { ...clean, PATH: `${dir}:${process.env.PATH ?? ""}`, HOME: dir, ...options.env?.(dir) };
    return new ExamplePage(steps, dir, env, options);
  }

  /** Runs `code` with sh to completion (bounded); resolves to its output. */
  sh(code: string, ms = this.options.stepMs ?? 60_000): Promise<string> {
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
  start(code: string, ready: string, ms = this.options.startMs ?? 30_000): Promise<void> {
    // Through env: a step may set variables first (APP_app1_KEY=... beamhub serve ...).
    const child = spawn("sh", ["-c", `exec env ${code.trim()}`], { cwd: this.dir, env: this.env });
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
        const lines = code
          .replace(/\\\n\s*/g, "")
          .trim()
          .split("\n");
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

/**
 * A page's `import "beamhub"` loads this checkout's `dist/` (a fresh clone builds it on install).
 * A build older than the sources would fail the page with a confusing missing export, so say so.
 */
async function checkBuildIsCurrent(): Promise<void> {
  const built = await stat(join(root, "dist", "index.js")).catch(() => undefined);
  if (built === undefined || built.mtimeMs < (await newestSource(root))) {
    throw new Error(
      "dist/ is missing or older than the sources: run `npm run build` before this page's test",
    );
  }
}

/** The newest modification time of the package's own .ts sources (not tests, benches or builds). */
async function newestSource(folder: string): Promise<number> {
  let newest = 0;
  for (const entry of await readdir(folder, { withFileTypes: true })) {
    const path = join(folder, entry.name);
    if (entry.isDirectory() && !skipped.has(entry.name)) newest = Math.max(newest, await newestSource(path));
    else if (entry.isFile() && entry.name.endsWith(".ts") && !entry.name.endsWith(".d.ts"))
      newest = Math.max(newest, (await stat(path)).mtimeMs);
  }
  return newest;
}

const skipped = new Set(["node_modules", "dist", "test", "bench", "build", "examples", "scripts", ".git"]);
