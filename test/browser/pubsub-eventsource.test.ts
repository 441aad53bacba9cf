// A browser's EventSource following a pub/sub channel (headless Chromium): a page from an
// allowed origin reads the channel's history and live messages as `message` events, binary data
// as {"$bytes"}; a page from another origin gets nothing (the hub refuses its Origin with 403
// and the browser closes the EventSource); closing the page's EventSource releases the
// subscription at the hub; and on a hub that requires tokens the page sends its token as
// ?access_token= (a wrong one is refused and the browser gives up). The origins, the hub and
// Chromium: ./two-origins.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type HttpsListener, type Hub, listenHttps } from "../../index.js";
import { within } from "../compliance/suite.js";
import { chromiumUnavailable, type LaunchedChromium } from "./chromium.js";
import { startTwoOrigins, type TwoOrigins } from "./two-origins.js";

const unavailable = await chromiumUnavailable();

/** The page's script: opens an EventSource and keeps what it reads in `window.seen`. */
const FOLLOW = (url: string): string => `(() => {
  window.seen = { messages: [], state: "connecting", errors: 0 };
  const source = new EventSource(${JSON.stringify(url)});
  window.source = source;
  source.onopen = () => { window.seen.state = "open"; };
  source.onerror = () => { window.seen.errors++; window.seen.state = source.readyState === 2 ? "closed" : "retrying"; };
  source.addEventListener("message", (event) => {
    window.seen.messages.push({ id: event.lastEventId, data: JSON.parse(event.data) });
  });
  return true;
})()`;

describe.skipIf(unavailable !== undefined)("EventSource in headless Chromium", () => {
  let origins: TwoOrigins | undefined;
  let hub: Hub;
  let listener: HttpsListener;
  let chromium: LaunchedChromium;
  let allowed: string;
  let evil: string;
  let certificateKey: string;

  beforeAll(async () => {
    origins = await startTwoOrigins();
    ({ hub, listener, chromium, allowed, evil } = origins);
    certificateKey = origins.certificate.key;
  });

  afterAll(async () => {
    await origins?.close();
  });

  async function subscribers(channel: string): Promise<number> {
    return (await hub.channels()).find((info) => info.name === channel)?.subscribers ?? 0;
  }

  async function waitFor(expression: string, what: string): Promise<void> {
    const { page, log } = chromium;
    try {
      await page.waitForFunction(expression, undefined, { timeout: 15_000 });
    } catch (error) {
      throw new Error(`${what}: ${(error as Error).message}\npage log:\n${log.join("\n")}`, { cause: error });
    }
  }

  it("a page from the allowed origin reads history and live messages; closing releases the subscription", async () => {
    const { page } = chromium;
    await hub.publish("chat room", { text: "before" });
    await hub.publish("chat room", new Uint8Array([255, 0]));
    await page.goto(`${allowed}/`, { timeout: 10_000 });
    await page.evaluate(FOLLOW(`${listener.url}/beamhub/v1/pubsub/chat%20room`));
    await waitFor("window.seen.messages.length === 2", "the history");
    await hub.publish("chat room", "live");
    await waitFor("window.seen.messages.length === 3", "the live message");
    const seen = await page.evaluate<{ messages: { id: string; data: unknown }[]; errors: number }>(
      "window.seen",
    );
    expect(seen.errors).toBe(0);
    expect(seen.messages).toEqual([
      { id: "1", data: { seq: 1, from: "local", time: expect.any(Number), data: { text: "before" } } },
      { id: "2", data: { seq: 2, from: "local", time: expect.any(Number), data: { $bytes: "/wA=" } } },
      { id: "3", data: { seq: 3, from: "local", time: expect.any(Number), data: "live" } },
    ]);
    expect(await subscribers("chat room")).toBe(1);
    await page.evaluate("window.source.close()");
    await within(
      (async () => {
        while ((await subscribers("chat room")) > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      10_000,
      "the subscription to be released",
    );
  });

  it("on a hub that requires tokens, a page sends its token as ?access_token= (EventSource sets no header)", async () => {
    const { page } = chromium;
    const token = "page-token-6512bd43";
    const guarded = await listenHttps(hub, {
      cert: listener.certificate,
      key: certificateKey,
      allowOrigins: [allowed],
      requireAuth: true,
      authenticate: (offered) => (offered === token ? { id: "page", via: "token" } : undefined),
      log: () => undefined,
    });
    try {
      await hub.publish("guarded", "for token holders");
      await page.goto(`${allowed}/`, { timeout: 10_000 });
      await page.evaluate(FOLLOW(`${guarded.url}/beamhub/v1/pubsub/guarded?access_token=wrong`));
      await waitFor('window.seen.state === "closed"', "the EventSource with a wrong token to be closed");
      await page.evaluate(FOLLOW(`${guarded.url}/beamhub/v1/pubsub/guarded?access_token=${token}`));
      await waitFor("window.seen.messages.length === 1", "the history, read with the token");
      expect(await page.evaluate<{ messages: { data: unknown }[] }>("window.seen")).toMatchObject({
        messages: [{ data: { seq: 1, data: "for token holders" } }],
      });
      await page.evaluate("window.source.close()");
    } finally {
      await guarded.close();
    }
  });

  it("a page from another origin reads nothing: the browser gives up on the refused stream", async () => {
    const { page } = chromium;
    await page.goto(`${evil}/`, { timeout: 10_000 });
    await page.evaluate(FOLLOW(`${listener.url}/beamhub/v1/pubsub/secret`));
    await waitFor('window.seen.state === "closed"', "the EventSource to be closed");
    expect(await page.evaluate<{ messages: unknown[] }>("window.seen")).toMatchObject({ messages: [] });
    expect(await subscribers("secret")).toBe(0);
  });
});
