import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Every wait in a test is bounded by its own timeout; this is the backstop.
    testTimeout: 20_000,
    hookTimeout: 60_000,
    pool: "forks",
  },
});
