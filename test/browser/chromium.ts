// Headless Chromium for browser tests: Debian's `chromium` driven by playwright-core
// (DESIGN.md: `npx playwright install` cannot download browsers here). Both are optional at
// run time: `chromiumUnavailable()` says why a browser test must be skipped
// (scripts/install-chromium.sh installs them).
import { spawnSync } from "node:child_process";
import { createHash, createPublicKey } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const CHROMIUM_PATH = process.env.BEAMHUB_CHROMIUM ?? "/usr/bin/chromium";

/**
 * The flags DESIGN.md measured: without the networking ones Chromium stalls on this closed
 * network (it tries to reach Google's services at start-up).
 */
export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/**
 * The flag that makes Chromium accept exactly one certificate (a test's development
 * certificate, PEM): `--ignore-certificate-errors-spki-list=` with the base64 SHA-256 of its
 * SubjectPublicKeyInfo. Chromium honours it because every launch has a fresh profile; every
 * other certificate error still fails.
 */
export function trustCertificateFlag(certificatePem: string): string {
  const spki = createPublicKey(certificatePem).export({ type: "spki", format: "der" });
  return `--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`;
}

/** The little of playwright-core's API the tests use (it is loaded dynamically). */
export interface Page {
  goto(url: string, options: { timeout: number }): Promise<unknown>;
  waitForFunction(expression: string, arg: undefined, options: { timeout: number }): Promise<unknown>;
  evaluate<T>(expression: string): Promise<T>;
  on(event: "console", listener: (message: { type(): string; text(): string }) => void): void;
  on(event: "pageerror", listener: (error: Error) => void): void;
}

interface BrowserContext {
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

interface PlaywrightCore {
  chromium: {
    launchPersistentContext(
      userDataDir: string,
      options: { executablePath: string; headless: boolean; args: string[]; timeout: number },
    ): Promise<BrowserContext>;
  };
}

/**
 * Why Chromium cannot run here, or `undefined` when it can. A missing Chromium is installed
 * first (scripts/install-chromium.sh: Debian's package), so the tests skip only when that
 * truly fails.
 */
export async function chromiumUnavailable(): Promise<string | undefined> {
  if (!existsSync(CHROMIUM_PATH)) {
    const script = fileURLToPath(new URL("../../scripts/install-chromium.sh", import.meta.url));
    const result = spawnSync("sh", [script], {
      stdio: ["ignore", "inherit", "inherit"],
      timeout: 15 * 60_000,
    });
    if (!existsSync(CHROMIUM_PATH)) {
      return `${CHROMIUM_PATH} is missing and scripts/install-chromium.sh could not install it (exit ${result.status ?? result.signal})`;
    }
  }
  try {
    await loadPlaywright();
  } catch {
    return "playwright-core is not installed (run scripts/install-chromium.sh)";
  }
  return undefined;
}

async function loadPlaywright(): Promise<PlaywrightCore> {
  const name = "playwright-core"; // not a static import: the package is optional
  return (await import(name)) as PlaywrightCore;
}

/** A headless Chromium with a fresh profile; `close()` removes the profile too. */
export interface LaunchedChromium {
  page: Page;
  /** What the page logged (console messages and uncaught errors), for failure messages. */
  log: string[];
  close(): Promise<void>;
}

export async function launchChromium(extraFlags: string[] = []): Promise<LaunchedChromium> {
  const { chromium } = await loadPlaywright();
  const profile = await mkdtemp(join(tmpdir(), "beamhub-chromium-"));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...CHROMIUM_FLAGS, ...extraFlags],
      // Chromium took over 20 s to start once in CI on a loaded machine; the hooks allow 60 s.
      timeout: 45_000,
    });
  } catch (error) {
    await rm(profile, { recursive: true, force: true });
    throw error;
  }
  const page = await context.newPage();
  const log: string[] = [];
  page.on("console", (message) => log.push(`${message.type()}: ${message.text()}`));
  page.on("pageerror", (error) => log.push(`pageerror: ${error.message}`));
  return {
    page,
    log,
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}
