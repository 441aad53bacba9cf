// Runs examples/tasks.md as a reader would (test/helpers/example-page.ts): `beamhub serve` in the
// background until it is ready, then curl for real, and for each block followed by a ```text
// block, a check that every line shown there was printed. The page's port 8081 is swapped for a
// free one; the hub's socket, https listener and task log go to the page's directory.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExamplePage } from "../helpers/example-page.js";
import { freePort } from "../helpers/ports.js";

let page: ExamplePage;

beforeAll(async () => {
  page = await ExamplePage.open("tasks.md", {
    env: (dir) => ({
      BEAMHUB_SOCKET: join(dir, "hub.sock"),
      BEAMHUB_LISTEN_HTTPS: "127.0.0.1:0",
      BEAMHUB_CERT_DIR: join(dir, "cert"),
      BEAMHUB_TASKS_FILE: join(dir, "tasks.kvlog"),
    }),
  });
});

afterAll(async () => {
  await page?.close();
});

describe("examples/tasks.md", () => {
  it("has the steps this test expects", () => {
    expect(page.steps[0]!.code).toContain("beamhub serve");
    expect(page.steps[0]!.background).toBe(true);
    expect(page.steps.length).toBe(5);
  });

  it("runs step by step", { timeout: 90_000 }, async () => {
    const port = String(await freePort());
    await page.run(
      (text) => text.replaceAll("8081", port),
      (output, line, code) => expect(output, `the output of:\n${code}`).toContain(line),
    );
  });
});
