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
  },
});
