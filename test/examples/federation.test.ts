// Runs examples/federation.md as a reader would, on loopback (test/helpers/example-page.ts): the
// ```sh blocks in order, those the page says to start "in its own terminal" in the background
// until the line of their ```text block shows up, the others to completion with every line of
// their ```text block checked in their output. The page's ports 8443, 8000 and 18000 are swapped
// for free ones.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExamplePage } from "../helpers/example-page.js";
import { freePorts } from "../helpers/ports.js";

let page: ExamplePage;

beforeAll(async () => {
  // Generous bounds: the sites' tunnels are retried with backoff, and this page ran at load 27.
  page = await ExamplePage.open("federation.md", { stepMs: 180_000, startMs: 120_000 });
});

afterAll(async () => {
  await page?.close();
});

describe("examples/federation.md", () => {
  it("has the steps this test expects", () => {
    expect(page.steps.filter((step) => step.background).length).toBe(6);
    expect(page.steps.every((step) => !step.background || step.output !== undefined)).toBe(true);
  });

  it("runs step by step", { timeout: 580_000 }, async () => {
    const [broker, web, local, app1, app2] = await freePorts(5);
    const place = (code: string): string =>
      code
        .replaceAll("18000", String(local))
        .replaceAll("8081", String(app1))
        .replaceAll("8082", String(app2))
        .replaceAll("8443", String(broker))
        .replaceAll("8000", String(web));
    await page.run(place, (output, line, code) => expect(output, `the output of:\n${code}`).toContain(line));
  });
});
