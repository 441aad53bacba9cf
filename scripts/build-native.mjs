// The install step: builds the fd passing addon (native/) with node-gyp, offline.
//
// It never fails the install. If the build fails, it prints a warning, writes the reason to
// native/build/build-failure.txt, and exits 0: everything except fd passing keeps working (the
// Unix transport falls back to plain sockets), and sending a descriptor throws
// FdUnavailableError ("fd passing unavailable: <that reason>").
// On Linux it then compiles the hand-off library (native/handoff-preload.c, LD_PRELOAD for
// `beamhub run`) with $CC or cc; a failure there is recorded in handoff-build-failure.txt.
//
// - node-gyp: npm's bundled copy (npm_config_node_gyp when run by npm, else found next to the
//   node binary), or a locally installed one. The registry's node-gyp@13 needs Node 22.
// - headers: --nodedir (npm_config_nodedir if set, else the prefix of the running node when it
//   has include/node/node_api.h, e.g. /usr), so nothing is downloaded.
// - BEAMHUB_FD_FORCE_BUILD_FAILURE=1 simulates a failed build; BEAMHUB_FD_NATIVE_DIR builds
//   another copy of native/ (both for tests).
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const nativeDir = resolve(process.env.BEAMHUB_FD_NATIVE_DIR ?? join(root, "native"));
const buildDir = join(nativeDir, "build");
const failureFile = join(buildDir, "build-failure.txt");
const addonFile = join(buildDir, "Release", "beamhub_fd.node");
const handoffFile = join(buildDir, "Release", "beamhub_handoff.so");
const handoffFailureFile = join(buildDir, "handoff-build-failure.txt");

function findNodeGyp() {
  const prefix = dirname(dirname(process.execPath));
  const candidates = [
    process.env.npm_config_node_gyp,
    join(prefix, "lib", "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    join(dirname(process.execPath), "node_modules", "npm", "node_modules", "node-gyp", "bin", "node-gyp.js"),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/share/nodejs/node-gyp/bin/node-gyp.js",
  ];
  try {
    candidates.push(createRequire(join(root, "package.json")).resolve("node-gyp/bin/node-gyp.js"));
  } catch {
    // not installed locally
  }
  return candidates.find((file) => file && existsSync(file));
}

function findNodeDir() {
  const candidates = [
    process.env.npm_config_nodedir,
    dirname(dirname(process.execPath)),
    "/usr",
    "/usr/local",
  ];
  return candidates.find((dir) => dir && existsSync(join(dir, "include", "node", "node_api.h")));
}

/** The first line of a build's output that mentions an error, else its exit code. */
function firstError(output, status) {
  return output.split("\n").find((line) => /error/i.test(line)) ?? `exit code ${status}`;
}

function tail(text, lines = 25) {
  return text.trim().split("\n").slice(-lines).join("\n");
}

/** Ends the addon build as failed: recorded, warned about, and the install goes on. */
class BuildFailure extends Error {
  constructor(reason, details) {
    super(reason);
    this.details = details;
  }
}

function fail(reason, details = "") {
  throw new BuildFailure(reason, details);
}

function recordFailure({ message: reason, details }) {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(failureFile, `${reason}\n`);
  if (existsSync(addonFile)) rmSync(addonFile);
  console.warn(
    [
      "",
      "WARNING: beamhub could not build its fd passing addon: only passing file descriptors is lost.",
      `  reason: ${reason}`,
      details && `  build output (last lines):\n${details.replace(/^/gm, "    ")}`,
      "  Everything else works, Unix sockets included (`beamhub serve`, listenUnix, connectUnix):",
      "  calls, channels and byte streams; sending a descriptor fails with FdUnavailableError.",
      "  Unix peers are then known by the socket's mode only (0600: this user).",
      "  To build it again (with a C++ compiler and Python installed): npm rebuild beamhub",
      "  (in a clone of beamhub: node scripts/build-native.mjs)",
      "",
    ]
      .filter(Boolean)
      .join("\n"),
  );
}

function build() {
  if (process.platform === "win32") fail("Unix domain socket fd passing does not exist on Windows");
  if (process.env.BEAMHUB_FD_FORCE_BUILD_FAILURE === "1")
    fail("build failure forced by BEAMHUB_FD_FORCE_BUILD_FAILURE=1");
  const nodeGyp = findNodeGyp();
  if (!nodeGyp) fail("node-gyp not found (looked for npm's bundled copy and node_modules/node-gyp)");
  const nodedir = findNodeDir();
  if (!nodedir) fail("Node.js headers (include/node/node_api.h) not found; set npm_config_nodedir");

  const result = spawnSync(
    process.execPath,
    [nodeGyp, "rebuild", `--nodedir=${nodedir}`, "--loglevel=warn"],
    {
      cwd: nativeDir,
      env: { ...process.env, npm_config_nodedir: nodedir, npm_config_offline: "true" },
      encoding: "utf8",
      timeout: 10 * 60 * 1000,
    },
  );
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  if (result.error) fail(`node-gyp could not run: ${result.error.message}`, tail(output));
  if (result.status !== 0) {
    fail(`node-gyp rebuild failed: ${firstError(output, result.status).trim()}`, tail(output));
  }
  if (!existsSync(addonFile)) fail(`node-gyp succeeded but ${addonFile} is missing`, tail(output));

  // A module that builds but does not load (wrong ABI, missing symbol) counts as a failure.
  const check = spawnSync(process.execPath, ["-e", `require(${JSON.stringify(addonFile)}).fdKind(0)`], {
    encoding: "utf8",
  });
  if (check.status !== 0) fail(`the built addon does not load: ${tail(check.stderr ?? "", 3)}`);

  rmSync(failureFile, { force: true });
  console.log(`beamhub: fd passing addon built (${addonFile})`);
}

// The hand-off library (LD_PRELOAD, Linux): built apart from the addon, so that a failure here
// only costs `beamhub run` its hand-off (programs then go through the ports) and never fd passing.
function buildHandoffLibrary() {
  if (process.platform !== "linux") return;
  const compiler = process.env.CC || "cc";
  const source = join(nativeDir, "handoff-preload.c");
  mkdirSync(join(buildDir, "Release"), { recursive: true });
  rmSync(handoffFailureFile, { force: true });
  const result = spawnSync(
    compiler,
    ["-shared", "-fPIC", "-O2", "-Wall", "-Wextra", "-o", handoffFile, source, "-ldl", "-pthread"],
    { encoding: "utf8", timeout: 2 * 60 * 1000 },
  );
  if (result.status === 0 && existsSync(handoffFile)) {
    console.log(`beamhub: hand-off library built (${handoffFile})`);
    return;
  }
  const output = `${result.stdout ?? ""}${result.stderr ?? ""}`;
  const reason = result.error
    ? `${compiler} could not run: ${result.error.message}`
    : `${compiler} failed: ${firstError(output, result.status)}`;
  rmSync(handoffFile, { force: true });
  writeFileSync(handoffFailureFile, `${reason}\n`);
  console.warn(
    `\nWARNING: beamhub could not build its hand-off library; beamhub run connects programs through ports.\n  reason: ${reason}\n`,
  );
}

try {
  build();
} catch (error) {
  if (!(error instanceof BuildFailure)) throw error;
  recordFailure(error);
}
// After the addon: node-gyp rebuild starts by removing build/.
buildHandoffLibrary();
