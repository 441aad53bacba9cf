// Pub/sub figures in /metrics: channels, subscribers, history, and published, delivered and
// dropped totals, scraped over real HTTP and parsed as Prometheus text while real peers (a Unix
// client and the hub's own session) publish and subscribe.
import { request as httpRequest } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { connectUnix, Hub, hubMetrics, listenMetrics, listenUnix, PubSub } from "../../index.js";
import { within } from "../compliance/suite.js";
import { parsePrometheusText } from "./prometheus-text.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function scrape(url: string): Promise<ReturnType<typeof parsePrometheusText>> {
  return within(
    new Promise((resolve, reject) => {
      const request = httpRequest(`${url}/metrics`, (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () =>
          response.statusCode === 200
            ? resolve(parsePrometheusText(body))
            : reject(new Error(`/metrics answered ${response.statusCode}`)),
        );
      });
      request.on("error", reject);
      request.end();
    }),
    10_000,
    "a scrape of /metrics",
  );
}

describe("pub/sub metrics", () => {
  it("count channels, subscribers, history and messages published, delivered and dropped", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-pubsub-metrics-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const hub = new Hub({ pubsub: { history: 3 } });
    cleanups.push(() => hub.close());
    const metrics = hubMetrics(hub, { defaultMetrics: false });
    const unix = await listenUnix(hub, join(dir, "hub.sock"));
    cleanups.push(() => unix.close());
    const listener = await listenMetrics("127.0.0.1", 0, { registry: metrics.registry });
    cleanups.push(() => listener.close());

    const empty = await scrape(listener.url);
    for (const name of ["pubsub_channels", "pubsub_subscribers", "pubsub_history_messages"])
      expect(empty.types.get(`beamhub_${name}`)).toBe("gauge");
    for (const name of ["pubsub_published_total", "pubsub_delivered_total", "pubsub_dropped_total"])
      expect(empty.types.get(`beamhub_${name}`)).toBe("counter");
    expect(empty.value("beamhub_pubsub_channels")).toBe(0);
    expect(empty.value("beamhub_pubsub_published_total")).toBe(0);

    // A Unix peer reads every message of "news"; the hub's own session subscribes to "news" with a
    // ring of 2 it never reads (drop-oldest: it loses the oldest), and publishes to "other".
    const peer = await connectUnix(unix.path);
    cleanups.push(() => peer.close());
    const reader = peer.subscribe("news", { history: false });
    await reader.ready;
    const slow = hub.subscribe("news", { history: false, lag: "drop-oldest", ring: 2 });
    await slow.ready;
    const got: unknown[] = [];
    const reading = (async () => {
      for await (const item of reader) {
        got.push(item);
        if (got.length === 10) return;
      }
    })();
    for (let i = 0; i < 10; i++) await peer.publish("news", { i, text: "x".repeat(100) });
    await hub.publish("other", "kept");
    await within(reading, 10_000, "the Unix subscriber's 10 messages");

    const after = await scrape(listener.url);
    expect(after.value("beamhub_pubsub_channels")).toBe(2);
    expect(after.value("beamhub_pubsub_subscribers")).toBe(2);
    expect(after.value("beamhub_pubsub_published_total")).toBe(11);
    // 10 to each subscriber of "news" (queued or read); "other" has none.
    expect(after.value("beamhub_pubsub_delivered_total")).toBe(20);
    // The unread ring of 2 kept the newest two of ten.
    expect(after.value("beamhub_pubsub_dropped_total")).toBe(8);
    // History: 3 of "news" (the channel's cap) and 1 of "other".
    expect(after.value("beamhub_pubsub_history_messages")).toBe(4);
    expect(after.value("beamhub_pubsub_history_bytes")!).toBeGreaterThan(300);

    // Subscribers leave: the gauges go down, the totals stay.
    reader.close();
    slow.close();
    await within(
      (async () => {
        while ((await scrape(listener.url)).value("beamhub_pubsub_subscribers") !== 0)
          await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      10_000,
      "the subscribers to be gone",
    );
    const gone = await scrape(listener.url);
    expect(gone.value("beamhub_pubsub_published_total")).toBe(11);
    expect(gone.value("beamhub_pubsub_delivered_total")).toBe(20);
    expect(gone.value("beamhub_pubsub_dropped_total")).toBe(8);
  });

  it("a channel forgotten when idle keeps its share of the totals", async () => {
    const pubsub = new PubSub({ history: 0 });
    const subscription = pubsub.subscribe("brief", "bob");
    await pubsub.publish("brief", 1, "alice");
    subscription.close(); // no history, no subscriber: the channel is forgotten
    expect(pubsub.figures()).toEqual({
      channels: 0,
      subscribers: 0,
      historyMessages: 0,
      historyBytes: 0,
      published: 1,
      delivered: 1,
      dropped: 0,
    });
    await pubsub.close();
  });
});
