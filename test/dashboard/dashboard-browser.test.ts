// The live dashboard in headless Chromium: a hub on HTTPS (and Unix) with services in process,
// over HTTP/2 and over a Unix socket, and a TCP gateway exposure; the page is opened at
// /beamhub/ui, traffic is driven, and the page's numbers must change. Screenshots at a desktop
// and a phone size are kept in test-artifacts/ (gitignored) for a person to look at.
//
// Certificate trust: as in test/browser/browser.test.ts, Chromium accepts exactly the hub's
// development certificate (--ignore-certificate-errors-spki-list).
import { createHash, createPublicKey } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectHttps,
  connectUnix,
  exposeTcp,
  Hub,
  listenHttps,
  listenUnix,
  type FileDescriptor,
  type HttpsListener,
  type RemoteHub,
  type Subscription,
  type TcpExposure,
  type UnixListener,
} from "../../index.js";
import {
  chromiumUnavailable,
  launchChromium,
  type LaunchedChromium,
  type Page,
} from "../browser/chromium.js";
import { within } from "../compliance/suite.js";

const ARTIFACTS = join(import.meta.dirname, "../../test-artifacts");
const unavailable = await chromiumUnavailable();
if (unavailable !== undefined) console.warn(`skipping the dashboard browser test: ${unavailable}`);

/** The parts of playwright's Page this test uses beyond the shared helper's. */
type FullPage = Page & {
  setViewportSize(size: { width: number; height: number }): Promise<void>;
  screenshot(options: { path: string; fullPage?: boolean }): Promise<unknown>;
};

function spkiHash(certificatePem: string): string {
  const spki = createPublicKey(certificatePem).export({ type: "spki", format: "der" });
  return createHash("sha256").update(spki).digest("base64");
}

describe.skipIf(unavailable !== undefined)("the live dashboard in headless Chromium", () => {
  let hub: Hub;
  let https: HttpsListener;
  let unix: UnixListener;
  let dir: string;
  let tcp: Server;
  let exposure: TcpExposure;
  const clients: RemoteHub[] = [];
  const subscriptions: Subscription[] = [];
  let reading: Promise<number> | undefined;
  let chromium: LaunchedChromium | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-dashboard-"));
    await mkdir(ARTIFACTS, { recursive: true });
    hub = new Hub();
    https = await listenHttps(hub);
    unix = await listenUnix(hub, join(dir, "hub.sock"));
    // A TCP endpoint for the gateway: accepts and closes.
    tcp = createServer((socket) => socket.end());
    await new Promise<void>((resolve) => tcp.listen(0, "127.0.0.1", resolve));
    exposure = await exposeTcp(
      hub,
      "postgres",
      `tcp://127.0.0.1:${(tcp.address() as { port: number }).port}`,
    );

    await hub.register("inventory.lookup", async (sku: string) => {
      await new Promise((resolve) => setTimeout(resolve, 3));
      return { sku, stock: sku.length };
    });
    const overHttps = await connectHttps(https.url, { ca: https.certificate, transport: "http2" });
    const overUnix = await connectUnix(join(dir, "hub.sock"));
    clients.push(overHttps, overUnix);
    await overHttps.register("billing.charge", async (cents: number) => {
      await new Promise((resolve) => setTimeout(resolve, 8));
      if (cents % 7 === 0) throw new Error("card declined");
      return { charged: cents };
    });
    await overUnix.register("thumbnails.render", (name: string) => `${name}.png`);
    // Pub/sub: "news" has a reader over Unix and a stalled one in process whose ring of 2 drops
    // the rest (lagged); "quiet" only keeps history.
    const reader = overUnix.subscribe("news", { history: false });
    const stalled = hub.subscribe("news", { history: false, ring: 2 });
    subscriptions.push(reader, stalled);
    reading = (async () => {
      let seen = 0;
      for await (const item of reader) if (!("lagged" in item)) seen++;
      return seen;
    })();
    await overHttps.publish("quiet", "kept for late joiners");
    chromium = await launchChromium([`--ignore-certificate-errors-spki-list=${spkiHash(https.certificate)}`]);
  });

  afterAll(async () => {
    await chromium?.close();
    for (const subscription of subscriptions) subscription.close();
    await reading;
    for (const client of clients) await client.close();
    await exposure?.close();
    await new Promise((resolve) => tcp?.close(resolve));
    await https?.close();
    await unix?.close();
    await hub?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Calls through every kind of session, a gateway connection included, `rounds` times,
   * `pauseMs` apart (so that the page sees rates over several of its intervals).
   */
  async function traffic(rounds: number, pauseMs = 0): Promise<void> {
    const [overHttps, overUnix] = clients as [RemoteHub, RemoteHub];
    for (let round = 0; round < rounds; round++) {
      await Promise.allSettled([
        overUnix.call("inventory.lookup", `sku-${round}`),
        overHttps.call("thumbnails.render", `img${round}`),
        overUnix.call("billing.charge", round + 1),
        hub.call("inventory.lookup", "x"),
        overHttps.publish("news", { round }),
      ]);
      if (round % 5 === 0) {
        const reply = await hub.call<{ socket: FileDescriptor }>("postgres", { handoff: true });
        reply.socket.close();
      }
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  const text = (page: Page, selector: string): Promise<string> =>
    page.evaluate<string>(`document.querySelector(${JSON.stringify(selector)})?.textContent ?? ""`);
  const snapshots = (page: Page): Promise<number> =>
    page.evaluate<number>("Number(document.body.dataset.snapshots ?? 0)");

  /**
   * Waits until the page drew `count` snapshots in all. Polled with `evaluate` (run through the
   * DevTools protocol): `waitForFunction` evaluates a string in the page, which the dashboard's
   * content security policy rightly forbids.
   */
  async function drawn(page: Page, count: number): Promise<void> {
    const until = Date.now() + 15_000;
    while ((await snapshots(page)) < count) {
      if (Date.now() > until) throw new Error(`the page did not draw ${count} snapshots within 15 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it("shows services, instances, sessions and the gateway, and its numbers move with traffic", async () => {
    const page = chromium!.page as FullPage;
    await page.setViewportSize({ width: 1280, height: 900 });
    await page.goto(`${https.url}/beamhub/ui?interval=250`, { timeout: 15_000 });
    await drawn(page, 1);
    const before = await text(page, '[data-metric="total-calls"]');

    // Traffic over a few seconds: the page must show a rate while it flows.
    const flowing = within(traffic(40, 60), 60_000, "the traffic");
    // ... and, for news, a message rate (in its row and the tile), while the traffic flows.
    let rate = "0";
    let newsRate = "0";
    let messages = "0";
    const moving = (value: string): boolean => Number.parseFloat(value) > 0;
    const giveUp = Date.now() + 30_000;
    for (let seen = await snapshots(page); !moving(rate) || !moving(newsRate) || !moving(messages); seen++) {
      if (Date.now() > giveUp)
        throw new Error("the page showed no call and message rate within 30 s of traffic");
      await drawn(page, seen + 1);
      rate = await text(page, '[data-metric="calls-per-second"]');
      newsRate = await text(page, '[data-channel="news"] [data-field="messages-per-second"]');
      messages = await text(page, '[data-metric="messages-per-second"]');
    }
    await drawn(page, (await snapshots(page)) + 4); // a few more points on the sparklines
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-desktop.png"), fullPage: true });
    await flowing;
    await drawn(page, (await snapshots(page)) + 2);

    const after = await text(page, '[data-metric="total-calls"]');
    expect(Number(after)).toBeGreaterThan(Number(before === "–" ? 0 : before));
    expect(Number(after)).toBeGreaterThanOrEqual(40 * 4);
    const services = await page.evaluate<string[]>(
      "[...document.querySelectorAll('#services .card')].map((card) => card.dataset.service)",
    );
    expect(services).toEqual(["billing.charge", "inventory.lookup", "thumbnails.render"]);
    const gateway = await page.evaluate<string[]>(
      "[...document.querySelectorAll('#gateway .card')].map((card) => card.dataset.service)",
    );
    expect(gateway).toEqual(["postgres"]);
    expect(await text(page, '#gateway [data-field="calls"]')).toBe("8");
    // billing.charge failed on every seventh amount: the card says so.
    expect(Number(await text(page, '[data-service="billing.charge"] [data-field="failed"]'))).toBeGreaterThan(
      0,
    );
    expect(await text(page, '[data-service="billing.charge"] [data-field="p99"]')).toMatch(/ms$/);
    // A latency sparkline was drawn for a service with timed calls.
    const points = await page.evaluate<string>(
      "document.querySelector('[data-service=\"billing.charge\"] polyline.latency').getAttribute('points')",
    );
    expect(points.split(" ").length).toBeGreaterThanOrEqual(2);

    const instanceRows = await page.evaluate<number>(
      "document.querySelectorAll('#instances tbody tr').length",
    );
    expect(instanceRows).toBe(4);
    const sessionsText = await text(page, "#sessions tbody");
    expect(sessionsText).toContain("unix");
    expect(sessionsText).toContain("http2");
    expect(sessionsText).toContain(`pid ${process.pid}`);
    expect(await text(page, '[data-metric="sessions-by-transport"]')).toContain("unix");

    // The pub/sub panel: news had messages at a rate, two subscribers, drops for the stalled one.
    const channels = await page.evaluate<string[]>(
      "[...document.querySelectorAll('#channels tbody tr')].map((row) => row.dataset.channel)",
    );
    expect(channels.sort()).toEqual(["news", "quiet"]);
    const news = (field: string): Promise<string> =>
      text(page, `[data-channel="news"] [data-field="${field}"]`);
    expect(await news("subscribers")).toBe("2");
    expect(Number(await news("seq"))).toBe(40);
    expect(Number(await news("lagged"))).toBe(38); // 40 published, 2 held by the ring
    expect(await news("history")).toBe("40");
    expect(await text(page, '[data-channel="quiet"] [data-field="history"]')).toBe("1");
    expect(await text(page, '[data-channel="quiet"] [data-field="subscribers"]')).toBe("0");
    expect(await text(page, "#status")).toBe("live");
  });

  it("fits a phone-size screen without sideways scrolling of the page", async () => {
    const page = chromium!.page as FullPage;
    await page.setViewportSize({ width: 390, height: 844 });
    await drawn(page, (await snapshots(page)) + 1);
    const overflow = await page.evaluate<number>(
      "document.documentElement.scrollWidth - document.documentElement.clientWidth",
    );
    expect(overflow).toBe(0);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
    expect(chromium!.log.filter((line) => line.startsWith("pageerror"))).toEqual([]);
  });
});
