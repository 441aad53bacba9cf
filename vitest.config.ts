import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

export default defineConfig({
  // Examples and README snippets import the package by name; inside the repo that is the source.
  resolve: { alias: { beamhub: fileURLToPath(new URL("./index.ts", import.meta.url)) } },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/global-setup.ts"],
    // Every wait in a test is bounded by its own timeout; this is the backstop.
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Two test files at a time on these 2-core machines: most tests wait on the processes and
    // sockets they start, so one at a time (vitest's default here) leaves a core idle.
    maxWorkers: 2,
  },
});
