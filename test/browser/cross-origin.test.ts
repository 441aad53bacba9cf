// Cross-site requests from a real browser: headless Chromium loads a page from another origin
// (another port of 127.0.0.1) and tries what any web page can — a no-cors text/plain POST, a
// JSON POST (which needs a preflight), a WebSocket — against a hub that allows one origin.
// The page from the allowed origin gets through and can read the reply; the other changes
// nothing. Certificate trust as in browser.test.ts (one SPKI accepted).
import { createHash, createPublicKey } from "node:crypto";
import { createSecureServer, type Http2SecureServer } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createDevCertificate, type HttpsListener, Hub, listenHttps } from "../../index.js";
import { chromiumUnavailable, launchChromium, type LaunchedChromium } from "./chromium.js";

const unavailable = await chromiumUnavailable();

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

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
  let hub: Hub;
  let listener: HttpsListener;
  let pages: Http2SecureServer[] = [];
  let chromium: LaunchedChromium | undefined;
  let calls = 0;
  let allowed: string;
  let evil: string;

  async function pageServer(certificate: { cert: string; key: string }): Promise<string> {
    const server = createSecureServer({ ...certificate, allowHTTP1: true });
    server.on("request", (_request, response) => {
      response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
      response.end('<!doctype html><meta charset="utf-8"><title>a page</title>');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    pages.push(server);
    return `https://127.0.0.1:${(server.address() as { port: number }).port}`;
  }

  beforeAll(async () => {
    const certificate = await createDevCertificate();
    allowed = await pageServer(certificate);
    evil = await pageServer(certificate);
    hub = new Hub();
    await hub.register("count", () => ++calls);
    listener = await listenHttps(hub, { ...certificate, allowOrigins: [allowed], log: () => undefined });
    const spki = createPublicKey(certificate.cert).export({ type: "spki", format: "der" });
    chromium = await launchChromium([
      `--ignore-certificate-errors-spki-list=${createHash("sha256").update(spki).digest("base64")}`,
    ]);
  });

  afterAll(async () => {
    await chromium?.close();
    await listener?.close();
    for (const server of pages) {
      await within(new Promise((resolve) => server.close(resolve)), 5000, "a page server to close").catch(
        () => undefined,
      );
    }
    pages = [];
    await hub?.close();
  });

  async function attemptFrom(origin: string): Promise<Attempt> {
    const { page, log } = chromium!;
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
