import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

// Examples and README snippets import the package by name; inside the repo that is the source.
const alias = { beamhub: fileURLToPath(new URL("./index.ts", import.meta.url)) };

/**
 * The test files that run each in a process of its own, because they change what the rest of a
 * process would see — the fd addon switched off by environment (loadFdAddon caches its first
 * answer per process: test/compliance/unix-no-addon.test.ts), OpenTelemetry's global tracer
 * provider and context manager (test/tracing failed in the shared process), process-wide
 * settings such as the umask, TMPDIR or HTTPS_PROXY — or because they run whole programs and the
 * repository's tools (long, and little to share). A new test file that does such a thing and does
 * not put it back goes here.
 */
const ISOLATED = [
  "test/cli/**/*.test.ts",
  "test/examples/**/*.test.ts",
  "test/package/**/*.test.ts",
  "test/ops/**/*.test.ts",
  "test/compliance/**/*.test.ts",
  "test/tracing/**/*.test.ts",
  "test/quality.test.ts",
  "test/readme.test.ts",
];

/** What both projects share. */
const common = {
  // Every wait in a test is bounded by its own timeout; this is the backstop.
  testTimeout: 20_000,
  hookTimeout: 60_000,
  pool: "forks",
} as const;

export default defineConfig({
  resolve: { alias },
  test: {
    ...common,
    // Runs once for the whole run (the root project's; the projects below do not repeat it).
    globalSetup: ["test/global-setup.ts"],
    projects: [
      {
        // Most test files share one worker process and its loaded modules (`isolate: false`).
        // WHY: an isolated file starts its own process and loads beamhub's few hundred modules
        // afresh through vitest's module runner; that was half of a full run (import time 109–160 s
        // against 7–12 s for the same 28 files at load 19–21; 339 tests, same results).
        resolve: { alias },
        test: {
          ...common,
          name: "shared",
          include: ["test/**/*.test.ts"],
          exclude: ISOLATED,
          isolate: false,
        },
      },
      {
        // The files that change what the rest of a process sees (ISOLATED above says which and why).
        resolve: { alias },
        test: { ...common, name: "isolated", include: ISOLATED },
      },
    ],
  },
});
