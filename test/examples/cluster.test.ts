// Runs examples/cluster.md step by step: three nats-servers, three `beamhub serve --cluster`
// hubs, a service on hub 3 reached from hub 1, a plain NATS request, and a Samply task posted at
// hub 1 and answered at hub 2. The page's ports are
// swapped for free ones.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ExamplePage } from "../helpers/example-page.js";
import { natsUnavailableReason } from "../helpers/nats-cluster.js";
import { freePorts } from "../helpers/ports.js";

let page: ExamplePage;
let unavailable: string | undefined;

beforeAll(async () => {
  unavailable = await natsUnavailableReason();
  if (unavailable !== undefined) console.warn(`examples/cluster.md is not run: ${unavailable}`);
  page = await ExamplePage.open("cluster.md");
}, 320_000);

afterAll(async () => {
  await page?.close();
});

describe("examples/cluster.md", () => {
  it("has the steps this test expects", () => {
    expect(page.steps.filter((step) => step.background).length).toBe(10);
    expect(page.steps.every((step) => !step.background || step.output !== undefined)).toBe(true);
  });

  it("runs step by step", { timeout: 240_000 }, async (context) => {
    if (unavailable !== undefined) context.skip();
    const ports = await freePorts(10);
    // Longest first: 18000 before 8000.
    const pagePorts = ["18000", "4222", "4223", "4224", "6222", "6223", "6224", "8000", "8081", "8082"];
    const place = (text: string): string =>
      pagePorts
        .reduce((placed, port, index) => placed.replaceAll(port, `@@port${index}@@`), text)
        .replace(/@@port(\d)@@/g, (_, index: string) => String(ports[Number(index)]));
    await page.run(place, (output, line, code) => expect(output, `the output of:\n${code}`).toContain(line));
  });
});
