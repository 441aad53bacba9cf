// /metrics, /healthz and /readyz over real HTTP and HTTPS: scraped, parsed as Prometheus text,
// figures moving with real traffic over a Unix socket; who may read /metrics on HTTPS.
import { request as httpsRequest } from "node:https";
import { request as httpRequest } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  connectUnix,
  healthRoutes,
  Hub,
  hubMetrics,
  httpsMetricsAccess,
  listenHttps,
  listenMetrics,
  listenUnix,
} from "../../index.js";
import { parsePrometheusText } from "./prometheus-text.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

interface Answer {
  status: number;
  type: string | undefined;
  body: string;
}

/** One GET, bounded. */
function get(url: string, options: { ca?: string; token?: string; method?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith("https:") ? httpsRequest : httpRequest)(
      url,
      {
        method: options.method ?? "GET",
        ca: options.ca,
        timeout: 10_000,
        headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
      },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode!, type: response.headers["content-type"], body }),
        );
      },
    );
    request.on("timeout", () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

describe("metrics on the plain listener", () => {
  it("parse as Prometheus text and move with traffic over a Unix socket", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-metrics-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const hub = new Hub();
    cleanups.push(() => hub.close());
    const metrics = hubMetrics(hub);
    let handedOver = 0;
    metrics.addGateway("pg", () => ({ handedOver, relayed: 1, failed: 0 }));
    metrics.addTasks(() => ({ tasks: 3, waiting: 1 }));
    const unix = await listenUnix(hub, join(dir, "hub.sock"));
    cleanups.push(() => unix.close());
    let listening = true;
    const listener = await listenMetrics("127.0.0.1", 0, {
      registry: metrics.registry,
      readiness: [{ name: "unix listener", check: () => listening || "closed" }],
    });
    cleanups.push(() => listener.close());

    const before = await get(`${listener.url}/metrics`);
    expect(before.status).toBe(200);
    expect(before.type).toContain("text/plain");
    const first = parsePrometheusText(before.body);
    expect(first.types.get("beamhub_calls_total")).toBe("counter");
    expect(first.types.get("beamhub_call_duration_seconds")).toBe("histogram");
    // prom-client's default metrics, event-loop lag among them.
    expect(first.types.get("beamhub_nodejs_eventloop_lag_seconds")).toBe("gauge");
    expect(first.value("beamhub_sessions", { transport: "local" })).toBe(1);
    expect(first.value("beamhub_sessions", { transport: "unix" })).toBe(0);
    expect(first.value("beamhub_gateway_connections_total", { gateway: "pg", mode: "relayed" })).toBe(1);
    expect(first.value("beamhub_tasks")).toBe(3);

    const worker = await connectUnix(unix.path);
    cleanups.push(() => worker.close());
    const caller = await connectUnix(unix.path);
    cleanups.push(() => caller.close());
    await worker.register("echo", (x: unknown) => x);
    await worker.register("boom", () => {
      throw new Error("boom");
    });
    for (let i = 0; i < 20; i++) await caller.call("echo", "x".repeat(1000));
    await expect(caller.call("boom")).rejects.toThrow("boom");
    await expect(caller.call("nobody")).rejects.toThrow();
    handedOver = 5;

    const after = parsePrometheusText((await get(`${listener.url}/metrics`)).body);
    expect(after.value("beamhub_calls_total", { service: "echo", outcome: "ok" })).toBe(20);
    expect(after.value("beamhub_calls_total", { service: "boom", outcome: "error" })).toBe(1);
    expect(after.value("beamhub_calls_not_found_total")).toBe(1);
    // Timed: a sample of ~1000 calls a second per instance (call-stats.ts); the first always.
    const timed = after.value("beamhub_call_duration_seconds_count", { service: "echo" })!;
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThanOrEqual(20);
    expect(after.value("beamhub_call_duration_seconds_bucket", { service: "echo", le: "+Inf" })).toBe(timed);
    // Buckets are cumulative: never decreasing in le.
    const buckets = after.samples.filter(
      (s) => s.name === "beamhub_call_duration_seconds_bucket" && s.labels.service === "echo",
    );
    for (let i = 1; i < buckets.length; i++)
      expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
    expect(after.value("beamhub_sessions", { transport: "unix" })).toBe(2);
    expect(after.value("beamhub_service_instances", { service: "echo" })).toBe(1);
    expect(after.value("beamhub_bytes_total", { direction: "in" })!).toBeGreaterThan(
      first.value("beamhub_bytes_total", { direction: "in" })! + 20_000,
    );
    expect(after.value("beamhub_frames_total", { direction: "out" })!).toBeGreaterThan(40);
    expect(after.value("beamhub_gateway_connections_total", { gateway: "pg", mode: "handed_over" })).toBe(5);

    expect(await get(`${listener.url}/healthz`)).toMatchObject({ status: 200, body: "ok\n" });
    expect(await get(`${listener.url}/readyz`)).toMatchObject({
      status: 200,
      body: "ok unix listener\nready\n",
    });
    listening = false;
    expect(await get(`${listener.url}/readyz`)).toMatchObject({
      status: 503,
      body: "fail unix listener: closed\nnot ready\n",
    });
    expect((await get(`${listener.url}/metrics`, { method: "POST" })).status).toBe(405);
    expect((await get(`${listener.url}/other`)).status).toBe(404);
  });

  it("refuses a prefix that is no Prometheus name", () => {
    expect(() => hubMetrics(new Hub(), { prefix: "bad-prefix" })).toThrow(/Prometheus name/);
  });
});

describe("metrics on the HTTPS listener", () => {
  it("need what the rest needs: authentication when required, and hub.stats allowed", async () => {
    const hub = new Hub({
      authorize: { call: (identity, service) => service !== "hub.stats" || identity?.id === "prometheus" },
    });
    cleanups.push(() => hub.close());
    const metrics = hubMetrics(hub, { defaultMetrics: false });
    const authenticate = (token: string): { id: string } | undefined =>
      token === "scrape-token" ? { id: "prometheus" } : token === "app-token" ? { id: "app" } : undefined;
    const routes = healthRoutes({
      registry: metrics.registry,
      authorize: httpsMetricsAccess(hub, { authenticate, requireAuth: true }),
    });
    const https = await listenHttps(hub, {
      authenticate,
      requireAuth: true,
      otherRequests: (request, response) => {
        if (!routes(request, response)) response.writeHead(404).end();
      },
    });
    cleanups.push(() => https.close());
    const ca = https.certificate;

    expect((await get(`${https.url}/healthz`, { ca })).status).toBe(200);
    expect((await get(`${https.url}/readyz`, { ca })).status).toBe(200);
    const anonymous = await get(`${https.url}/metrics`, { ca });
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toContain("authentication required");
    expect((await get(`${https.url}/metrics`, { ca, token: "wrong" })).status).toBe(401);
    const app = await get(`${https.url}/metrics`, { ca, token: "app-token" });
    expect(app.status).toBe(403);
    expect(app.body).toContain("hub.stats");
    const scraper = await get(`${https.url}/metrics`, { ca, token: "scrape-token" });
    expect(scraper.status).toBe(200);
    expect(parsePrometheusText(scraper.body).value("beamhub_sessions", { transport: "local" })).toBe(1);
    // Never a secret in the figures.
    expect(scraper.body).not.toContain("scrape-token");
  });
});
