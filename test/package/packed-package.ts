/**
 * The package as npm would publish it, installed into a fresh project without the network: a
 * fresh build of tsconfig.build.json, staged with exactly what package.json's "files" names,
 * packed with `npm pack`, and installed with `npm ci --offline` from npm's cache.
 *
 * Why `npm ci` with a lock file rather than `npm install <tarball>`: offline, npm can only take
 * what its cache holds, and the cache holds the dependencies' tarballs (by integrity) but not
 * their registry metadata, which `npm install` needs to pick versions. The lock file, made from
 * this repo's own (the runtime dependencies only), names the exact tarballs instead.
 */
import { execFile } from "node:child_process";
import { cp, mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The repository's root. */
export const root = join(import.meta.dirname, "..", "..");

interface Manifest {
  name: string;
  version: string;
  license?: string;
  files: string[];
  dependencies?: Record<string, string>;
  overrides?: Record<string, string>;
  bin?: Record<string, string>;
  engines?: Record<string, string>;
}

interface LockEntry {
  dev?: boolean;
  link?: boolean;
  [field: string]: unknown;
}

/** npm's environment without what a parent `npm test` exported, so the repo's settings stay out. */
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(key)) env[key] = value;
  }
  return { ...env, npm_config_audit: "false", npm_config_fund: "false", npm_config_update_notifier: "false" };
}

/** Builds and packs the package into `dir`; resolves to the tarball's path. */
export async function packPackage(dir: string, timeoutMs: number): Promise<string> {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as Manifest;
  const stage = join(dir, "stage");
  await mkdir(stage, { recursive: true });
  await run(
    process.execPath,
    [
      join(root, "node_modules", "typescript", "bin", "tsc"),
      "-p",
      join(root, "tsconfig.build.json"),
      "--outDir",
      join(stage, "dist"),
    ],
    { cwd: root, timeout: timeoutMs },
  );
  await cp(join(root, "package.json"), join(stage, "package.json"));
  await cp(join(root, "README.md"), join(stage, "README.md"));
  // Everything "files" names except the build itself must exist in the repo: a missing one fails here.
  for (const file of manifest.files.filter((entry) => entry !== "dist")) {
    await mkdir(dirname(join(stage, file)), { recursive: true });
    await cp(join(root, file), join(stage, file), { recursive: true });
  }
  // --ignore-scripts: `prepare` would build again, into the repo's own dist/.
  const { stdout } = await run(
    "npm",
    ["pack", "--ignore-scripts", "--json", "--pack-destination", dir, stage],
    {
      cwd: dir,
      env: npmEnv(),
      timeout: timeoutMs,
    },
  );
  const [packed] = JSON.parse(stdout) as [{ filename: string }];
  return join(dir, packed.filename);
}

/**
 * Makes a fresh project in `dir` whose only dependency is `tarball`, and installs it offline
 * (scripts off: without the addon everything but fd passing works, which is what this checks).
 */
export async function installPacked(dir: string, tarball: string, timeoutMs: number): Promise<void> {
  const manifest = JSON.parse(await readFile(join(root, "package.json"), "utf8")) as Manifest;
  const lock = JSON.parse(await readFile(join(root, "package-lock.json"), "utf8")) as {
    packages: Record<string, LockEntry>;
  };
  const spec = `file:${tarball}`;
  const project = {
    name: "beamhub-package-check",
    private: true,
    type: "module",
    dependencies: { [manifest.name]: spec },
    // The lock below was resolved under these; npm ci refuses a lock that disagrees with them.
    overrides: manifest.overrides ?? {},
  };
  const packages: Record<string, unknown> = {
    "": { name: project.name, dependencies: project.dependencies },
    [`node_modules/${manifest.name}`]: {
      version: manifest.version,
      resolved: spec,
      license: manifest.license,
      dependencies: manifest.dependencies,
      bin: manifest.bin,
      engines: manifest.engines,
      hasInstallScript: true,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith("node_modules/") && entry.dev !== true && entry.link !== true) packages[path] = entry;
  }
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "package.json"), JSON.stringify(project, null, 2));
  await writeFile(
    join(dir, "package-lock.json"),
    JSON.stringify({ name: project.name, lockfileVersion: 3, requires: true, packages }, null, 2),
  );
  await run("npm", ["ci", "--offline", "--ignore-scripts"], { cwd: dir, env: npmEnv(), timeout: timeoutMs });
}
