// The hub's figures: sessions you can identify (transport, address or Unix credentials,
// identity, traffic) and per-instance call counts and latency, read in process and remotely
// over real Unix and HTTPS sessions.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  connectHttps,
  connectMemory,
  connectUnix,
  ForbiddenError,
  Hub,
  listenHttps,
  listenUnix,
  peerCredentialsAvailable,
  type SessionInfo,
  type SlowCall,
} from "../../index.js";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function newHub(options: ConstructorParameters<typeof Hub>[0] = {}): Hub {
  const hub = new Hub(options);
  cleanups.push(() => hub.close());
  return hub;
}

describe("hub.instancesInfo() and hub.stats()", () => {
  it("count calls by outcome and estimate latency per instance", async () => {
    const hub = newHub();
    await hub.register("sync", (n: number) => n + 1);
    await hub.register("async", async (n: number) => {
      await new Promise((resolve) => setTimeout(resolve, 2));
      return n;
    });
    await hub.register("fails", () => {
      throw new Error("no");
    });
    await hub.register("slow", () => new Promise(() => undefined));
    for (let i = 0; i < 100; i++) await hub.call("sync", i);
    for (let i = 0; i < 5; i++) await hub.call("async", i);
    await expect(hub.call("fails")).rejects.toThrow("no");
    await expect(hub.call("slow", null, { timeout: 20 })).rejects.toMatchObject({ code: "ETIMEOUT" });
    await expect(hub.call("nobody")).rejects.toMatchObject({ code: "ESERVICE_NOT_FOUND" });

    const byName = Object.fromEntries(hub.instancesInfo().map((i) => [i.name, i]));
    expect(byName.sync).toMatchObject({
      calls: 100,
      ok: 100,
      errors: 0,
      transport: "local",
      identity: "local",
    });
    // A handler called fast is timed by a sample of ~1000 calls a second (call-stats.ts): the
    // first call always.
    expect(byName.sync!.p50Ms).toBeGreaterThan(0);
    expect(byName.async).toMatchObject({ calls: 5, ok: 5 });
    // Each took at least 2 ms (a timer): the estimate is at least the bucket below.
    expect(byName.async!.p50Ms).toBeGreaterThanOrEqual(1);
    expect(byName.fails).toMatchObject({ calls: 1, errors: 1, ok: 0 });
    expect(byName.slow).toMatchObject({ calls: 1, timeouts: 1, inFlight: 0 });

    const stats = hub.stats();
    expect(stats.notFound).toBe(1);
    expect(stats.sessions.local).toBe(1);
    const sync = stats.services.find((s) => s.name === "sync")!;
    expect(sync).toMatchObject({ instances: 1, calls: 100, ok: 100 });
    expect(sync.latency.count).toBeGreaterThanOrEqual(1);
    expect(sync.latency.count).toBeLessThanOrEqual(100);
    expect(sync.latency.buckets.reduce((a, b) => a + b, 0)).toBe(sync.latency.count);
  });

  it("keep a name's counts when its instances go (counters never go down)", async () => {
    const hub = newHub();
    const session = hub.session();
    const registration = await session.register("echo", (x: unknown) => x);
    for (let i = 0; i < 3; i++) await hub.call("echo", i);
    await registration.unregister();
    await session.register("echo", (x: unknown) => x);
    await hub.call("echo", 4);
    const echo = hub.stats().services.find((s) => s.name === "echo")!;
    expect(echo).toMatchObject({ instances: 1, calls: 4, ok: 4 });
    expect(hub.instancesInfo({ name: "echo" })).toMatchObject([{ calls: 1 }]);
  });

  it("counts in-flight calls, failover as gone, and keeps none with stats: false", async () => {
    const hub = newHub();
    const first = hub.session();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    await first.register("work", async () => {
      await held;
      return "first";
    });
    const pending = hub.call("work");
    await new Promise((resolve) => setImmediate(resolve));
    expect(hub.instancesInfo({ name: "work" })).toMatchObject([{ inFlight: 1 }]);
    expect(hub.sessionsInfo().find((s) => s.transport === "local")).toMatchObject({ callsInFlight: 1 });
    const second = hub.session();
    await second.register("work", () => "second");
    await first.close();
    expect(await pending).toBe("second");
    release();
    expect(hub.stats().services.find((s) => s.name === "work")).toMatchObject({ calls: 2, gone: 1, ok: 1 });

    const bare = newHub({ stats: false });
    await bare.register("echo", (x: unknown) => x);
    await bare.call("echo", 1);
    expect(bare.instancesInfo()).toMatchObject([{ name: "echo", calls: 0 }]);
    expect(bare.stats().services).toMatchObject([{ name: "echo", calls: 0 }]);
    expect(() => new Hub({ stats: "yes" as never })).toThrow(/stats must be a boolean/);
  });

  it("tells observers of sessions and slow calls, and an observer that throws breaks nothing", async () => {
    const hub = newHub({ slowCallMs: 5 });
    const opened: SessionInfo[] = [];
    const closed: [SessionInfo, Error | undefined][] = [];
    const slow: SlowCall[] = [];
    hub.observe({
      sessionOpened: () => {
        throw new Error("observer bug");
      },
    });
    const stop = hub.observe({
      sessionOpened: (session) => opened.push(session),
      sessionClosed: (session, reason) => closed.push([session, reason]),
      slowCall: (call) => slow.push(call),
    });
    const session = connectMemory(hub);
    await session.register("nap", () => new Promise((resolve) => setTimeout(() => resolve("ok"), 20)));
    await hub.call("nap");
    await hub.call("nap");
    expect(slow).toHaveLength(2);
    expect(slow[0]).toMatchObject({ service: "nap", outcome: "ok", caller: { identity: "local" } });
    expect(slow[0]!.ms).toBeGreaterThanOrEqual(5);
    await session.close();
    expect(opened.map((s) => [s.id, s.transport])).toEqual([[session.id, "memory"]]);
    expect(closed.map(([s]) => s.id)).toEqual([session.id]);
    stop();
    hub.session();
    expect(opened).toHaveLength(1);
  });
});

describe("sessions over real transports", () => {
  it("show transport, Unix credentials or address, identity and traffic; readable remotely", async () => {
    const dir = await mkdtemp(join(tmpdir(), "beamhub-stats-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const hub = newHub();
    const unix = await listenUnix(hub, join(dir, "hub.sock"));
    cleanups.push(() => unix.close());
    const https = await listenHttps(hub);
    cleanups.push(() => https.close());

    const overUnix = await connectUnix(unix.path);
    cleanups.push(() => overUnix.close());
    const overH2 = await connectHttps(https.url, { ca: https.certificate, transport: "http2" });
    cleanups.push(() => overH2.close());
    const overWs = await connectHttps(https.url, { ca: https.certificate, transport: "websocket" });
    cleanups.push(() => overWs.close());

    await overUnix.register("echo", (x: unknown) => x);
    const big = "x".repeat(50_000);
    for (let i = 0; i < 10; i++) expect(await overH2.call("echo", big)).toBe(big);
    await overWs.call("echo", "hi");

    const sessions = await overUnix.sessionsInfo();
    const byTransport = (t: string): SessionInfo[] => sessions.filter((s) => s.transport === t);
    expect(byTransport("local")).toHaveLength(1);
    const [unixSession] = byTransport("unix");
    expect(unixSession!.services).toBe(1);
    if (peerCredentialsAvailable()) {
      expect(unixSession!.identity).toMatchObject({ via: "unix", uid: process.getuid!(), pid: process.pid });
    }
    const [h2] = byTransport("http2");
    expect(h2!.remoteAddress).toBe("127.0.0.1");
    expect(h2!.traffic!.bytesIn).toBeGreaterThan(10 * 50_000);
    expect(h2!.traffic!.framesIn).toBeGreaterThanOrEqual(11);
    expect(h2!.traffic!.channels).toBeGreaterThanOrEqual(1);
    // The unix peer served the ten calls: the hub sent it their requests.
    expect(unixSession!.traffic!.bytesOut).toBeGreaterThan(10 * 50_000);
    expect(byTransport("websocket")).toHaveLength(1);
    expect(sessions.every((s) => s.connectedAt <= Date.now())).toBe(true);

    const instances = await overWs.instancesInfo({ name: "echo" });
    expect(instances).toMatchObject([{ name: "echo", calls: 11, ok: 11, transport: "unix" }]);
    expect(instances[0]!.p99Ms).toBeGreaterThan(0);
    const stats = await overH2.stats();
    expect(stats.sessions).toMatchObject({ local: 1, unix: 1, http2: 1, websocket: 1 });
    expect(stats.traffic.bytesIn).toBeGreaterThan(10 * 50_000);

    // A closed session's traffic stays in the totals.
    const before = hub.stats().traffic.bytesIn;
    await overH2.close();
    await within(5000, async () => {
      while (hub.stats().sessions.http2 !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
    });
    expect(hub.stats().traffic.bytesIn).toBeGreaterThanOrEqual(before);
  });

  it("shows sessions and figures only to peers the access rules let call hub.sessions / hub.stats", async () => {
    const hub = newHub({
      authorize: { call: (identity, service) => identity?.id === "ops" || !service.startsWith("hub.") },
    });
    const https = await listenHttps(hub, {
      authenticate: (token) =>
        token === "ops-token" ? { id: "ops" } : token === "app-token" ? { id: "app" } : undefined,
    });
    cleanups.push(() => https.close());
    const ops = await connectHttps(https.url, { ca: https.certificate, token: "ops-token" });
    cleanups.push(() => ops.close());
    const app = await connectHttps(https.url, { ca: https.certificate, token: "app-token" });
    cleanups.push(() => app.close());
    await expect(app.sessionsInfo()).rejects.toBeInstanceOf(ForbiddenError);
    await expect(app.stats()).rejects.toMatchObject({ code: "EFORBIDDEN" });
    const sessions = await ops.sessionsInfo();
    expect(sessions.map((s) => s.identity?.id).sort()).toEqual(["app", "local", "ops"]);
    // Nothing secret: no token, no attributes.
    expect(JSON.stringify(sessions)).not.toContain("ops-token");
    expect(hub.stats().forbidden).toBe(2);
  });
});

async function within(ms: number, body: () => Promise<void>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    body(),
    new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms))),
  ]).finally(() => clearTimeout(timer));
}
