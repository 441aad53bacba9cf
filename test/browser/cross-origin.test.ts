// Cross-site requests from a real browser: headless Chromium loads a page from another origin
// (another port of 127.0.0.1) and tries what any web page can — a no-cors text/plain POST, a
// JSON POST (which needs a preflight), a WebSocket — against a hub that allows one origin.
// The page from the allowed origin gets through and can read the reply; the other changes
// nothing. The origins, the hub and Chromium: ./two-origins.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpsListener } from "../../index.js";
import { within } from "../compliance/suite.js";
import { chromiumUnavailable, type LaunchedChromium } from "./chromium.js";
import { startTwoOrigins, type TwoOrigins } from "./two-origins.js";

const unavailable = await chromiumUnavailable();

/** What the page managed to do against the hub. */
interface Attempt {
  noCors: string;
  json: string;
  webSocket: string;
}

/** The page's script: each attempt, with what the browser let it see. */
const ATTEMPT = (hub: string): string => `(async () => {
  const hub = ${JSON.stringify(hub)};
  const out = {};
  try {
    await fetch(hub + "/beamhub/v1/call/count", { method: "POST", mode: "no-cors", body: "null" });
    out.noCors = "sent";
  } catch (error) { out.noCors = "failed: " + error; }
  try {
    const response = await fetch(hub + "/beamhub/v1/call/count", {
      method: "POST", headers: { "content-type": "application/json" }, body: "null",
    });
    out.json = response.status + " " + (await response.text());
  } catch (error) { out.json = "blocked"; }
  out.webSocket = await new Promise((resolve) => {
    const socket = new WebSocket(hub.replace("https:", "wss:") + "/beamhub/v1/ws", ["beamhub.v1"]);
    socket.onopen = () => { socket.close(); resolve("open"); };
    socket.onerror = () => resolve("refused");
  });
  return out;
})()`;

describe.skipIf(unavailable !== undefined)("cross-site requests from headless Chromium", () => {
  let origins: TwoOrigins | undefined;
  let listener: HttpsListener;
  let chromium: LaunchedChromium;
  let calls = 0;
  let allowed: string;
  let evil: string;

  beforeAll(async () => {
    origins = await startTwoOrigins((hub) => hub.register("count", () => ++calls));
    ({ listener, chromium, allowed, evil } = origins);
  });

  afterAll(async () => {
    await origins?.close();
  });

  async function attemptFrom(origin: string): Promise<Attempt> {
    const { page, log } = chromium;
    await page.goto(`${origin}/`, { timeout: 10_000 });
    try {
      return await within(page.evaluate<Attempt>(ATTEMPT(listener.url)), 15_000, "the page's attempts");
    } catch (error) {
      throw new Error(`${(error as Error).message}\npage log:\n${log.join("\n")}`, { cause: error });
    }
  }

  it("a page from another origin runs nothing and reads nothing", async () => {
    const before = calls;
    const result = await attemptFrom(evil);
    // The no-cors POST was sent (the browser does not ask first) but the hub refused it.
    expect(result).toEqual({ noCors: "sent", json: "blocked", webSocket: "refused" });
    expect(calls).toBe(before);
  });

  it("a page from the allowed origin calls and reads the reply, and opens a WebSocket", async () => {
    const before = calls;
    const result = await attemptFrom(allowed);
    expect(result.noCors).toBe("sent"); // sent, and refused for its content-type (415)
    expect(result.json).toBe(`200 ${before + 1}`);
    expect(result.webSocket).toBe("open");
    expect(calls).toBe(before + 1);
  });
});
