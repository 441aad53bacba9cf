// Runs examples/tcp-gateway.md as a reader would, against a throwaway PostgreSQL cluster, so
// the page cannot rot: every ```sh block's commands in order (`npm run beamhub -- ...` as the
// CLI from its prebuilt bundle, `... &` in the background until it says it is ready, `psql` for real), the
// ```ts program, and for each block followed by a ```text block, a check that every line shown
// there was printed. The page's fixed ports and paths are swapped for free ones (a table below);
// numbers in the shown output match any number (ports, ids).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliArgs } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";
import { eventually } from "../gateway/pg-bed.js";
import { pgTool, startPostgres, stopPostgres, type Postgres } from "../gateway/postgres.js";
import { freePorts } from "../helpers/ports.js";

const root = join(import.meta.dirname, "..", "..");
const page = await readFile(join(root, "examples", "tcp-gateway.md"), "utf8");

/** A code block of the page and the output shown right after it, if any. */
interface Step {
  lang: "sh" | "ts";
  code: string;
  output: string | undefined;
}

function stepsOf(markdown: string): Step[] {
  const blocks = [...markdown.matchAll(/```(\w+)\n([\s\S]*?)```/g)].map((match) => ({
    lang: match[1]!,
    code: match[2]!,
    start: match.index,
    end: match.index + match[0].length,
  }));
  const steps: Step[] = [];
  blocks.forEach((block, index) => {
    if (block.lang !== "sh" && block.lang !== "ts") return;
    const next = blocks[index + 1];
    const shown = next?.lang === "text" && markdown.slice(block.end, next.start).trim() === "";
    steps.push({ lang: block.lang, code: block.code, output: shown ? next.code : undefined });
  });
  return steps;
}

const steps = stepsOf(page);

let pg: Postgres | undefined;
let skipReason = "";
let dir: string;
let env: NodeJS.ProcessEnv;
/** The page's port or path → this run's. */
let swaps: Record<string, string>;
const background: { child: ChildProcess; output: string }[] = [];

beforeAll(async () => {
  const started = await startPostgres(120_000);
  if (typeof started === "string") {
    skipReason = started;
    console.warn(`examples/tcp-gateway.md not run: ${started}`);
    return;
  }
  pg = started;
  dir = await mkdtemp(join(tmpdir(), "beamhub-example-gateway-"));
  const [https, down, ...local] = await freePorts(9);
  swaps = {
    "5432": String(pg.port),
    "5499": String(down), // nothing listens there: the "database is down" step
    "8443": String(https),
    "~/.beamhub/dev-cert": join(dir, "cert"),
  };
  local.forEach((port, index) => (swaps[String(6432 + index)] = String(port)));
  const { BEAMHUB_HUB: _hub, BEAMHUB_CONFIG: _config, ...inherited } = process.env;
  env = {
    ...inherited,
    // The page relies on the CLI's defaults; here they point into this test's own directory.
    BEAMHUB_SOCKET: join(dir, "hub.sock"),
    BEAMHUB_HTTPS: `127.0.0.1:${https}`,
    BEAMHUB_CERT_DIR: join(dir, "cert"),
    PATH: `${dirname(pgTool("psql"))}:${process.env.PATH ?? ""}`,
    PGCONNECT_TIMEOUT: "10",
    // The page's program makes a temporary directory, as a user's would: here it goes with `dir`.
    TMPDIR: dir,
  };
}, 150_000);

afterAll(async () => {
  for (const { child } of background.reverse()) {
    if (child.exitCode !== null || child.signalCode !== null) continue;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGINT");
    const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  await stopPostgres(pg);
}, 30_000);

function swap(text: string): string {
  const keys = Object.keys(swaps).map((key) => key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&"));
  return text.replace(new RegExp(`(?<![\\w.])(${keys.join("|")})(?!\\w)`, "g"), (key) => swaps[key]!);
}

/** The argv that runs one command line of the page. */
function argvOf(line: string): string[] {
  const words = [...line.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  if (words.slice(0, 4).join(" ") === "npm run beamhub --") {
    return [process.execPath, ...cliArgs(), ...words.slice(4)];
  }
  if (words[0] === "psql") return words;
  throw new Error(`the page runs a command this test does not know: ${line}`);
}

/** What a background command prints once it is ready. */
function readyLine(argv: string[]): RegExp {
  const command = argv[1 + cliArgs().length]; // after node and the command's own arguments
  if (command === "serve") return /press Ctrl-C to stop/;
  if (command === "expose") return /^exposing /m;
  if (command === "connect") return /^listening on /m;
  throw new Error(`no ready line known for beamhub ${command}`);
}

function startBackground(argv: string[]): Promise<void> {
  const child = spawn(argv[0]!, argv.slice(1), { cwd: root, env });
  const entry = { child, output: "" };
  background.push(entry);
  const ready = readyLine(argv);
  return within(
    new Promise<void>((resolve, reject) => {
      const collect = (chunk: Buffer): void => {
        entry.output += chunk.toString();
        if (ready.test(entry.output)) resolve();
      };
      child.stdout.on("data", collect);
      child.stderr.on("data", collect);
      child.once("exit", (code) => reject(new Error(`${argv.join(" ")} exited (${code}):\n${entry.output}`)));
    }),
    20_000,
    `beamhub ${argv.slice(1 + cliArgs().length).join(" ")} to be ready`,
  );
}

/**
 * Runs a foreground command to its end, bounded at 60 s: the page's program starts through tsx,
 * which alone took 20-30 s on a loaded machine (a kill at 20 s read as exit code 1).
 */
function runForeground(argv: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(argv[0]!, argv.slice(1), { cwd: root, env, timeout: 60_000 }, (error, stdout, stderr) =>
      resolve({
        code: error === null ? 0 : typeof error.code === "number" ? error.code : 1,
        output: stdout + stderr,
      }),
    );
  });
}

/**
 * The shown lines not found in `actual`: numbers match any number, runs of blanks any blanks,
 * and each printed line stands for one shown line only.
 */
function missingLines(shown: string, actual: string): string[] {
  const unused = actual.split("\n").map((line) => line.trim());
  return shown
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "")
    .filter((line) => {
      const pattern = line
        .split(/(\d+|\s+)/)
        .map((part) =>
          /^\d+$/.test(part)
            ? "\\d+"
            : /^\s+$/.test(part)
              ? "\\s+"
              : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"),
        )
        .join("");
      const at = unused.findIndex((candidate) => new RegExp(`^${pattern}$`).test(candidate));
      if (at >= 0) unused.splice(at, 1);
      return at < 0;
    });
}

/** Waits (bounded) until every shown line was printed by `printed()`. */
async function expectShown(shown: string | undefined, printed: () => string): Promise<void> {
  if (shown === undefined) return;
  const expected = swap(shown);
  await eventually(
    () => missingLines(expected, printed()).length === 0,
    "the output the page shows",
    5_000,
  ).catch(() => {
    throw new Error(
      `lines shown on the page but not printed:\n${missingLines(expected, printed()).join("\n")}\n` +
        `--- printed:\n${printed()}`,
    );
  });
}

describe("examples/tcp-gateway.md", () => {
  it("has the steps this test knows about", () => {
    expect(steps.map((step) => step.lang)).toEqual(["sh", "sh", "sh", "sh", "sh", "sh", "sh", "ts"]);
  });

  steps.forEach((step, index) => {
    const title = step.code.trim().split("\n")[0]!.slice(0, 70);
    it(`step ${index + 1}: ${title}`, { timeout: 90_000 }, async (context) => {
      if (pg === undefined) return context.skip(skipReason);
      if (step.lang === "ts") {
        // .mts: ESM (top-level await) although no package.json says so out here.
        const file = join(dir, `snippet-${index + 1}.mts`);
        // Imported by name in the page; here the package is this repository's source.
        await writeFile(
          file,
          swap(step.code).replace(/from "beamhub"/g, `from ${JSON.stringify(join(root, "index.ts"))}`),
        );
        const result = await runForeground([process.execPath, "--import", "tsx", file]);
        expect(result.code, result.output).toBe(0);
        return expectShown(step.output, () => result.output);
      }
      // What the block's commands print, and what running background commands print meanwhile.
      const offsets = new Map(background.map((entry) => [entry, entry.output.length]));
      const printed: string[] = [];
      const failures: string[] = [];
      for (const line of step.code.split("\n").map((text) => text.trim())) {
        if (line === "" || line.startsWith("#")) continue;
        const argv = argvOf(swap(line.replace(/\s*&$/, "")));
        if (line.endsWith("&")) {
          await startBackground(argv);
          continue;
        }
        const result = await runForeground(argv);
        printed.push(result.output);
        if (result.code !== 0) failures.push(`${line} exited with ${result.code}:\n${result.output}`);
      }
      const all = (): string =>
        [...printed, ...background.map((entry) => entry.output.slice(offsets.get(entry) ?? 0))].join("\n");
      await expectShown(step.output, all);
      // A command may fail only where the page shows it failing.
      if (!/psql: error/.test(step.output ?? "")) expect(failures).toEqual([]);
      else expect(failures.length).toBe(1);
    });
  });
});
