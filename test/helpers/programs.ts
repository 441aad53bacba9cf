/**
 * The TypeScript programs the tests start as processes (the `beamhub` command and the fixture
 * scripts), built once per test run into plain JavaScript, one bundle each.
 *
 * WHY: starting a process through tsx (`node --import tsx file.ts`) costs 1–4 s on this loaded
 * machine (the loader thread resolves and transforms a few hundred modules), and the suite starts
 * a few hundred of them; a bundle starts in about a third of a second. `test/global-setup.ts` builds
 * them all in one esbuild call before any test; `nodeArgs(file)` gives a test the arguments that
 * run one. Tests of the tsx/npm path itself (npm wrappers, pack-and-install, README snippets,
 * the examples' own scripts) still go through tsx.
 */
import { existsSync } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..", "..");

/**
 * Where the bundles go: three folders below the repository, so that paths the product resolves
 * from its own module (`../../../hub/dashboard/assets/`, as from `dist/hub/dashboard/`) and the
 * native addon's search upwards for `native/` find the source tree's files. `build/` is ignored by
 * git, eslint and prettier.
 */
export const PROGRAMS_DIR = join(root, "build", "test-run", "bin");

/** The programs tests start, relative to the repository root. Add a script here to start it with `nodeArgs`. */
export const PROGRAMS = [
  "cli/main.ts",
  "test/compliance/connect-peer.ts",
  "test/compliance/http2-peer.ts",
  "test/compliance/unix-peer.ts",
  "test/faults/fixtures/frozen-listener.ts",
  "test/faults/fixtures/hub.ts",
  "test/faults/fixtures/peer.ts",
  "test/faults/fixtures/stalling-peer.ts",
  "test/flow/hub-process.ts",
  "test/gateway/expose-peer.ts",
  "test/helpers/peer-lib.ts",
  "test/http2/fixtures/hub-server.ts",
  "test/http2/fixtures/stream-sink-hub.ts",
  "test/http2/fixtures/stream-then-close.ts",
  "test/pubsub/fixtures/pubsub-hub.ts",
  "test/reconnect/fixtures/hub.ts",
  "test/reconnect/fixtures/service.ts",
  "test/tasks/fixtures/task-hub.ts",
  "test/tracing/tracing-peer.ts",
  "test/unix/direct-peer.ts",
  "test/unix/fixtures/stream-sink-hub.ts",
  "test/unix/fixtures/stream-then-close.ts",
  "test/unix/unix-peer.ts",
  "test/unix-fd/fixtures/listener.ts",
  "test/unix-fd/fixtures/peer.ts",
  "test/unix-fd/fixtures/throwing.ts",
  "test/unix-fd/fixtures/unavailable.ts",
] as const;

/** The bundle's file name for a program: its path with `/` as `--`, so all sit in one folder. */
function bundleOf(program: string): string {
  return join(PROGRAMS_DIR, `${program.replace(/\.ts$/, "").replaceAll("/", "--")}.mjs`);
}

/** The error a test gets when it asks for a program the build does not know or did not write. */
export class ProgramNotBuiltError extends Error {
  readonly code = "EPROGRAM_NOT_BUILT";
  constructor(message: string) {
    super(message);
    this.name = "ProgramNotBuiltError";
  }
}

/** `file` (absolute, or relative to the repository) as a path relative to the repository. */
function programOf(file: string): string {
  return relative(root, resolve(root, file));
}

/** Whether `file` is one of the prebuilt {@link PROGRAMS}. */
export function isProgram(file: string): boolean {
  return (PROGRAMS as readonly string[]).includes(programOf(file));
}

/**
 * The arguments after `node` that run `file` (an absolute path or one relative to the
 * repository): its prebuilt bundle.
 * @throws {ProgramNotBuiltError} when `file` is not in {@link PROGRAMS} or its bundle is missing
 *   (the global set-up did not run).
 */
export function nodeArgs(file: string): string[] {
  const program = programOf(file);
  if (!isProgram(program)) {
    throw new ProgramNotBuiltError(
      `${program} is not one of the prebuilt test programs: add it to PROGRAMS in test/helpers/programs.ts`,
    );
  }
  const bundle = bundleOf(program);
  if (!existsSync(bundle)) {
    throw new ProgramNotBuiltError(
      `${bundle} is missing: test/global-setup.ts builds it before the tests (run them through vitest)`,
    );
  }
  return [bundle];
}

/**
 * The arguments after `node` that run the TypeScript file `file`: its bundle when it is one of the
 * {@link PROGRAMS}, else through tsx (a bench's own scripts, which run outside vitest).
 */
export function scriptArgs(file: string): string[] {
  return isProgram(file) ? nodeArgs(file) : ["--import", "tsx", file];
}

/**
 * Bundles TypeScript entry points for Node into `outdir`, one `.mjs` per entry (`entryPoints`
 * maps an output name to its source file), with the packages inside the bundle. The test
 * programs are built with it, and so are the processes of benchmarks that profile or time their
 * start (bench/many-sessions: under tsx a CPU profile names most functions by their file's
 * line 1, and the loader thread adds CPU time of its own).
 */
export async function bundleForNode(entryPoints: Record<string, string>, outdir: string): Promise<void> {
  await build({
    absWorkingDir: root,
    entryPoints,
    outdir,
    outExtension: { ".js": ".mjs" },
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    // Packages are bundled too (a third of the start-up goes to loading them one file at a time).
    // These stay outside: they find native code or worker files next to their own modules.
    external: [
      "cbor-extract",
      "msgpackr-extract",
      "bufferutil",
      "utf-8-validate",
      "pino",
      "thread-stream",
      "prom-client",
    ],
    // Bundled CommonJS packages call require(); an ES module has none of its own.
    banner: {
      js: 'import { createRequire as __testRequire } from "node:module"; const require = __testRequire(import.meta.url);',
    },
    splitting: true,
    logLevel: "warning",
  });
}

/**
 * Builds every program into {@link PROGRAMS_DIR}. The bundles are written to a fresh folder that
 * then replaces the old one, so a run never starts half of an old build and half of a new one.
 */
export async function buildPrograms(): Promise<void> {
  const fresh = `${PROGRAMS_DIR}.${process.pid}`;
  await rm(fresh, { recursive: true, force: true });
  await bundleForNode(
    Object.fromEntries(
      PROGRAMS.map((program) => [relative(PROGRAMS_DIR, bundleOf(program)).replace(/\.mjs$/, ""), program]),
    ),
    fresh,
  );
  await rm(PROGRAMS_DIR, { recursive: true, force: true });
  await rename(fresh, PROGRAMS_DIR);
}
