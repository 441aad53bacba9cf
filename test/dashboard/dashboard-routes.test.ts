// The dashboard's routes over a real HTTPS listener, without a browser: the same authentication
// as the rest of /beamhub/, the access rules deciding what a viewer sees, the snapshots' figures
// moving with traffic, the limits, and what a bad request gets.
import { afterEach, describe, expect, it } from "vitest";
import { Hub, listenHttps, type HttpsListener, type ListenHttpsOptions } from "../../index.js";
import { get, openEvents, type SnapshotStream } from "./sse.js";

let hub: Hub | undefined;
let listener: HttpsListener | undefined;
const streams: SnapshotStream[] = [];

afterEach(async () => {
  for (const stream of streams.splice(0)) stream.close();
  await listener?.close();
  await hub?.close();
  hub = undefined;
  listener = undefined;
});

async function serve(options: ListenHttpsOptions = {}, setup?: (hub: Hub) => void): Promise<HttpsListener> {
  hub = new Hub();
  setup?.(hub);
  listener = await listenHttps(hub, options);
  return listener;
}

async function events(path = "/beamhub/ui/events?interval=250", headers = {}): Promise<SnapshotStream> {
  const stream = await openEvents(listener!.url, listener!.certificate, path, headers);
  streams.push(stream);
  return stream;
}

describe("the dashboard page", () => {
  it("serves its three files with a strict content security policy", async () => {
    const { url, certificate } = await serve();
    for (const [path, type] of [
      ["/beamhub/ui", "text/html"],
      ["/beamhub/ui/", "text/html"],
      ["/beamhub/ui/dashboard.js", "text/javascript"],
      ["/beamhub/ui/dashboard.css", "text/css"],
    ] as const) {
      const answer = await get(url, path, certificate);
      expect(answer.status, path).toBe(200);
      expect(answer.headers["content-type"]).toContain(type);
      expect(answer.headers["content-security-policy"]).toContain("script-src 'self'");
      expect(answer.headers["content-security-policy"]).toContain("frame-ancestors 'none'");
      expect(answer.headers["x-content-type-options"]).toBe("nosniff");
    }
    expect((await get(url, "/beamhub/ui", certificate)).body).toContain('src="/beamhub/ui/dashboard.js"');
  });

  it("answers an unknown file 404, a POST 405, a bad interval 400", async () => {
    const { url, certificate } = await serve();
    // Only the page's own files: nothing else on disk is reachable through the route.
    expect((await get(url, "/beamhub/ui/..%2fdashboard-routes.ts", certificate)).status).toBe(404);
    expect((await get(url, "/beamhub/ui/assets/index.html", certificate)).status).toBe(404);
    const missing = await get(url, "/beamhub/ui/secret.txt", certificate);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body)).toMatchObject({ code: "ENOT_FOUND" });
    expect((await get(url, "/beamhub/ui", certificate, { method: "POST" })).status).toBe(405);
    for (const interval of ["10", "abc", "1.5", "9999999"]) {
      const bad = await get(url, `/beamhub/ui/events?interval=${interval}`, certificate);
      expect(bad.status, interval).toBe(400);
      expect(JSON.parse(bad.body)).toMatchObject({ code: "EINVALID_ARGUMENT" });
      expect(JSON.parse(bad.body).message).toContain("interval");
    }
  });

  it("can be turned off", async () => {
    const { url, certificate } = await serve({ dashboard: false });
    expect((await get(url, "/beamhub/ui", certificate)).status).toBe(404);
    expect((await get(url, "/beamhub/v1/services", certificate)).status).toBe(200);
  });
});

describe("the dashboard's authentication and access rules", () => {
  it("refuses anonymous viewers where the hub requires authentication, like every other route", async () => {
    const { url, certificate } = await serve({
      requireAuth: true,
      authenticate: (token) => (token === "s3cret" ? { id: "ops" } : undefined),
    });
    expect((await get(url, "/beamhub/ui", certificate)).status).toBe(401);
    expect((await get(url, "/beamhub/ui/events", certificate)).status).toBe(401);
    const bad = { headers: { authorization: "Bearer wrong" } };
    expect((await get(url, "/beamhub/ui", certificate, bad)).status).toBe(401);
    const good = { authorization: "Bearer s3cret" };
    expect((await get(url, "/beamhub/ui", certificate, { headers: good })).status).toBe(200);
    const stream = await events("/beamhub/ui/events?interval=250", good);
    expect(stream.status).toBe(200);
    expect(stream.headers["content-type"]).toContain("text/event-stream");
    await stream.waitFor(1);
  });

  it("shows nothing without hub.stats (403) and no session list without hub.sessions", async () => {
    const { url, certificate } = await serve({ authenticate: (token) => ({ id: token }) }, (hub) =>
      hub.authorize({
        call: (identity, service) =>
          service === "hub.sessions"
            ? identity?.id === "admin"
            : service !== "hub.stats" || identity !== undefined,
      }),
    );
    const anonymous = await get(url, "/beamhub/ui/events", certificate);
    expect(anonymous.status).toBe(403);
    expect(JSON.parse(anonymous.body)).toMatchObject({ code: "EFORBIDDEN" });

    const viewer = await events("/beamhub/ui/events?interval=250", { authorization: "Bearer viewer" });
    expect((await viewer.waitFor(1)).sessions).toBeNull();
    const admin = await events("/beamhub/ui/events?interval=250", { authorization: "Bearer admin" });
    const seen = await admin.waitFor(1);
    expect(seen.sessions).not.toBeNull();
    expect(seen.sessionCount).toBeGreaterThanOrEqual(2); // the two viewers' own sessions at least
  });

  it("serves at most maxViewers streams at once (503 ELIMIT), and frees a place when one leaves", async () => {
    const { url, certificate } = await serve({ dashboard: { maxViewers: 1 } });
    const first = await events();
    await first.waitFor(1);
    const refused = await get(url, "/beamhub/ui/events", certificate);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ code: "ELIMIT" });
    first.close();
    // The server notices the viewer left on its next write at the latest.
    let again: SnapshotStream | undefined;
    for (let attempt = 0; attempt < 40 && again === undefined; attempt++) {
      const stream = await events();
      if (stream.status === 200) again = stream;
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(again?.status).toBe(200);
  });
});

describe("the snapshots", () => {
  it("move with traffic: calls, rates, failures, interval latency, instances and sessions", async () => {
    await serve();
    await hub!.register("work", async (n: number) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      if (n % 5 === 0) throw new Error("every fifth fails");
      return n;
    });
    const stream = await events();
    const before = await stream.waitFor(1);
    expect(before.services).toEqual([
      expect.objectContaining({ name: "work", instances: 1, calls: 0, failed: 0, gateway: false }),
    ]);
    expect(before.intervalMs).toBe(0);
    await Promise.allSettled(Array.from({ length: 20 }, (_, n) => hub!.call("work", n + 1)));
    // The next snapshot taken after the traffic shows it.
    const from = stream.snapshots.length + 1;
    let after = await stream.waitFor(from);
    for (let next = from + 1; after.services[0]!.calls < 20 && next < from + 40; next++) {
      after = await stream.waitFor(next);
    }
    const work = after.services[0]!;
    expect(work).toMatchObject({ name: "work", calls: 20, failed: 4 });
    expect(stream.snapshots.some((snapshot) => (snapshot.services[0]?.callsPerSecond ?? 0) > 0)).toBe(true);
    expect(stream.snapshots.some((snapshot) => (snapshot.services[0]?.failedPerSecond ?? 0) > 0)).toBe(true);
    expect(stream.snapshots.some((snapshot) => (snapshot.services[0]?.p99Ms ?? 0) >= 1)).toBe(true);
    expect(after.instances).toEqual([expect.objectContaining({ name: "work", calls: 20, errors: 4 })]);
    expect(
      after.sessions?.some((session) => session.transport === "http" && session.remoteAddress !== undefined),
    ).toBe(true);
  });

  it("ends when the hub closes", async () => {
    await serve();
    const stream = await events();
    await stream.waitFor(1);
    await hub!.close();
    await expect(
      Promise.race([
        stream.ended.then(() => "ended"),
        new Promise((r) => setTimeout(() => r("open"), 10_000)),
      ]),
    ).resolves.toBe("ended");
  });
});
