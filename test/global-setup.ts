/**
 * Builds the programs tests start as processes (./helpers/programs.ts), before any test and again
 * before each rerun in watch mode, so no test starts a stale build.
 *
 * Installs, once before any test, the system programs some tests need when they are missing:
 * PostgreSQL (gateway tests), nginx (the proxy test), tinyproxy (the forward-proxy tests),
 * Chromium (browser tests), curl (the HTTP mapping tests), nats-server (the NATS cluster tests). One `apt-get` for all of them, outside any test's time limit; each test still
 * checks for itself and skips with a printed reason only if the program truly is not there.
 */
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import type { TestProject } from "vitest/node";
import { buildPrograms } from "./helpers/programs.js";

function hasPostgres(): boolean {
  try {
    return readdirSync("/usr/lib/postgresql").some((version) =>
      existsSync(`/usr/lib/postgresql/${version}/bin/postgres`),
    );
  } catch {
    return false;
  }
}

function onPath(program: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${program}`], { stdio: "ignore" }).status === 0;
}

export async function setup(project: TestProject): Promise<void> {
  installMissingPrograms();
  await buildPrograms();
  project.onTestsRerun(() => buildPrograms());
}

function installMissingPrograms(): void {
  const missing: string[] = [];
  if (!hasPostgres() || !onPath("psql") || !onPath("pgbench"))
    missing.push("postgresql", "postgresql-contrib");
  if (!onPath("nginx") && !existsSync("/usr/sbin/nginx")) missing.push("nginx");
  if (!onPath("tinyproxy")) missing.push("tinyproxy");
  if (!existsSync(process.env.BEAMHUB_CHROMIUM ?? "/usr/bin/chromium")) missing.push("chromium");
  if (!onPath("curl")) missing.push("curl");
  if (!onPath("nats-server") && !existsSync("/usr/sbin/nats-server")) missing.push("nats-server");
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !onPath("apt-get")) {
    console.warn(
      `test set-up: missing ${missing.join(", ")} and cannot install them (needs root and apt-get)`,
    );
    return;
  }
  console.log(`test set-up: installing ${missing.join(", ")} from Debian packages...`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  const update = spawnSync("apt-get", ["update"], { stdio: "inherit", env, timeout: 10 * 60_000 });
  const install = spawnSync("apt-get", ["install", "-y", ...missing], {
    stdio: "inherit",
    env,
    timeout: 20 * 60_000,
  });
  if (update.status !== 0 || install.status !== 0) {
    console.warn(
      `test set-up: installing ${missing.join(", ")} failed; the tests that need them will say so`,
    );
  }
}
