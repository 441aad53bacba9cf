// Refused HTTPS requests (401, 403) as structured log events: who (address, identity), what
// (method, path), why (code, reason), rate-limited per status and code, and never a secret
// (the Authorization header, a token in the query, a key). A real hub behind listenHttps, real
// requests over TLS, serve's own pino logger and its refusal-logging function.
import { request as httpsRequest } from "node:https";
import { connect as http2Connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { healthRoutes, Hub, hubMetrics, httpsMetricsAccess, type Identity } from "../../index.js";
import { createLogger } from "../../cli/logger.js";
import { logHttpsRefusal } from "../../cli/serve-observe.js";
import { RefusalReporter, type HttpsRefusal } from "../../transports/http2/refusal-log.js";
import { startHub, within, type HttpsFixture } from "./helpers.js";

const SECRET_TOKEN = "wrong-secret-token-d41d8cd9";
const BOB_TOKEN = "bob-token-8f14e45f";
const QUERY_SECRET = "query-secret-c4ca4238";

/** A hub behind listenHttps whose refusals go to serve's logger (JSON lines) and to `events`. */
interface RefusalFixture extends HttpsFixture {
  lines: string[];
  events: HttpsRefusal[];
}

async function startRefusalHub(): Promise<RefusalFixture> {
  const lines: string[] = [];
  const events: HttpsRefusal[] = [];
  const logger = createLogger({ level: "info", format: "json" }, (line) => lines.push(line));
  const toLog = logHttpsRefusal(logger);
  const authenticate = (token: string) => (token === BOB_TOKEN ? { id: "bob" } : undefined);
  const hub = new Hub();
  // /metrics on the same listener, behind the same auth (as serve mounts it).
  const metricsRoutes = healthRoutes({
    registry: hubMetrics(hub, { defaultMetrics: false }).registry,
    authorize: httpsMetricsAccess(hub, { authenticate }),
  });
  const fixture = await startHub(
    {
      authenticate,
      onRefused: (refusal) => {
        events.push(refusal);
        toLog(refusal);
      },
      otherRequests: (request, response) => {
        if (!metricsRoutes(request, response)) {
          response.writeHead(404);
          response.end();
        }
      },
    },
    hub,
  );
  // Authenticated peers may call anything but admin.* and the hub's figures.
  fixture.hub.authorize({
    call: (identity: Identity | undefined, service: string) =>
      identity !== undefined && !service.startsWith("admin.") && service !== "hub.stats",
  });
  await fixture.hub.register("admin.secret", () => "the secret");
  return { ...fixture, lines, events };
}

let fixture: RefusalFixture;
let other: RefusalFixture;

beforeAll(async () => {
  fixture = await startRefusalHub();
  other = await startRefusalHub();
});

afterAll(async () => {
  await fixture?.close();
  await other?.close();
});

/** One HTTP/1.1 request over TLS; resolves to its status. */
function get(
  path: string,
  headers: Record<string, string> = {},
  method = "GET",
  on: RefusalFixture = fixture,
): Promise<number> {
  const url = new URL(path, on.listener.url);
  return within(
    new Promise<number>((resolve, reject) => {
      const request = httpsRequest(url, { method, headers, ca: on.listener.certificate }, (response) => {
        response.resume();
        response.once("end", () => resolve(response.statusCode ?? 0));
      });
      request.once("error", reject);
      request.end(method === "POST" ? "{}" : undefined);
    }),
    10_000,
    `${method} ${path}`,
  );
}

/** Waits until a refusal event matching `match` was reported. */
async function refusal(
  match: (event: HttpsRefusal) => boolean,
  what: string,
  on: RefusalFixture = fixture,
): Promise<HttpsRefusal> {
  return within(
    (async () => {
      for (;;) {
        const found = on.events.find(match);
        if (found !== undefined) return found;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })(),
    10_000,
    what,
  );
}

describe("HTTPS refusals in the log", () => {
  it("a wrong bearer token: 401 with address, path and why, the token nowhere", async () => {
    const status = await get(`/beamhub/v1/call/admin.secret?token=${QUERY_SECRET}`, {
      authorization: `Bearer ${SECRET_TOKEN}`,
    });
    expect(status).toBe(401);
    const event = await refusal((e) => e.status === 401 && e.transport === "http", "the 401 event");
    expect(event).toMatchObject({
      status: 401,
      code: "EUNAUTHENTICATED",
      method: "GET",
      path: "/beamhub/v1/call/admin.secret",
      address: "127.0.0.1",
      suppressed: 0,
    });
    expect(event.identity).toBeUndefined();
    expect(event.reason).toMatch(/token/);
    const line = fixture.lines.find((l) => l.includes('"status":401'))!;
    expect(JSON.parse(line)).toMatchObject({
      level: "warn",
      event: "https.refused",
      status: 401,
      code: "EUNAUTHENTICATED",
      path: "/beamhub/v1/call/admin.secret",
      address: "127.0.0.1",
      identity: "anonymous",
    });
  });

  it("an authenticated peer the access rules refuse: 403 with its identity", async () => {
    const status = await get(
      "/beamhub/v1/call/admin.secret",
      { authorization: `Bearer ${BOB_TOKEN}`, "content-type": "application/json" },
      "POST",
    );
    expect(status).toBe(403);
    const event = await refusal((e) => e.status === 403 && e.code === "EFORBIDDEN", "the 403 event");
    expect(event).toMatchObject({ method: "POST", path: "/beamhub/v1/call/admin.secret", identity: "bob" });
    expect(event.reason).toMatch(/admin\.secret/);
  });

  it("/metrics refused on another route of the server is reported too", async () => {
    expect(await get("/metrics", { authorization: `Bearer ${BOB_TOKEN}` }, "GET", other)).toBe(403);
    const event = await refusal((e) => e.path === "/metrics", "the /metrics event", other);
    expect(event).toMatchObject({ status: 403, code: "EFORBIDDEN", method: "GET", transport: "http" });
    expect(event.reason).toMatch(/hub\.stats/);
  });

  it("the same kind again within 10 s is left out, and counted", async () => {
    const before = fixture.events.length;
    expect(await get("/beamhub/v1/services", { authorization: `Bearer ${SECRET_TOKEN}` })).toBe(401);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(fixture.events.length).toBe(before);
  });

  it("a WebSocket upgrade refused for its token: transport websocket", async () => {
    // A fresh kind: the origin check (403 EORIGIN) of an upgrade from a foreign page.
    const status = await within(
      new Promise<number>((resolve, reject) => {
        const request = httpsRequest(
          new URL("/beamhub/v1/ws", fixture.listener.url),
          {
            ca: fixture.listener.certificate,
            headers: {
              connection: "Upgrade",
              upgrade: "websocket",
              "sec-websocket-version": "13",
              "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
              "sec-websocket-protocol": "beamhub.v1",
              origin: "https://evil.example",
              cookie: `session=${SECRET_TOKEN}`,
            },
          },
          (response) => {
            response.resume();
            resolve(response.statusCode ?? 0);
          },
        );
        request.once("upgrade", () => reject(new Error("upgraded")));
        request.once("error", reject);
        request.end();
      }),
      10_000,
      "the refused upgrade",
    );
    expect(status).toBe(403);
    const event = await refusal((e) => e.transport === "websocket", "the upgrade's event");
    expect(event).toMatchObject({ status: 403, code: "EORIGIN", path: "/beamhub/v1/ws" });
  });

  it("an HTTP/2 session request with a wrong token: transport http2", async () => {
    const session = http2Connect(other.listener.url, { ca: other.listener.certificate });
    session.on("error", () => undefined);
    try {
      const status = await within(
        new Promise<number>((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/beamhub/v1/session",
            authorization: `Bearer ${SECRET_TOKEN}`,
          });
          stream.once("response", (headers) => resolve(Number(headers[":status"])));
          stream.once("error", reject);
          stream.resume();
          stream.end();
        }),
        10_000,
        "the session request",
      );
      expect(status).toBe(401);
    } finally {
      session.close();
    }
    const event = await refusal((e) => e.transport === "http2", "the session's event", other);
    expect(event).toMatchObject({ status: 401, code: "EUNAUTHENTICATED", path: "/beamhub/v1/session" });
  });

  it("no line holds a credential: not the header, not the query, not a cookie", () => {
    const lines = [...fixture.lines, ...other.lines];
    expect(lines.length).toBeGreaterThanOrEqual(5);
    for (const line of lines) {
      expect(line).not.toContain(SECRET_TOKEN);
      expect(line).not.toContain(BOB_TOKEN);
      expect(line).not.toContain(QUERY_SECRET);
      expect(line).not.toMatch(/Bearer [\w-]{8,}/i);
    }
  });
});

describe("RefusalReporter", () => {
  it("reports one refusal per status and code per interval, then how many it left out", () => {
    let now = 0;
    const reported: HttpsRefusal[] = [];
    const reporter = new RefusalReporter(
      (refusal) => reported.push(refusal),
      10_000,
      () => now,
    );
    const refusal = {
      status: 401 as const,
      code: "EUNAUTHENTICATED",
      reason: "the bearer token was refused",
      method: "GET",
      path: "/x",
      transport: "http" as const,
    };
    for (let i = 0; i < 5; i++) reporter.refused(refusal);
    reporter.refused({ ...refusal, status: 403, code: "EFORBIDDEN" }); // another kind: reported
    // A code that is not beamhub's shares one kind with every such code (no map entry per value).
    reporter.refused({ ...refusal, code: "x".repeat(100) });
    reporter.refused({ ...refusal, code: "y".repeat(100) });
    expect(reported.map((r) => [r.status, r.code, r.suppressed])).toEqual([
      [401, "EUNAUTHENTICATED", 0],
      [403, "EFORBIDDEN", 0],
      [401, "x".repeat(100), 0],
    ]);
    now = 10_000;
    reporter.refused(refusal);
    expect(reported.at(-1)).toMatchObject({ status: 401, code: "EUNAUTHENTICATED", suppressed: 4 });
  });

  it("reports the last refusal of a burst when the interval ends, so that none goes uncounted", async () => {
    const reported: HttpsRefusal[] = [];
    const reporter = new RefusalReporter((refusal) => reported.push(refusal), 50);
    const refusal = {
      status: 429 as const,
      code: "ETOO_MANY_SESSIONS",
      reason: "too many sessions",
      method: "POST",
      path: "/beamhub/v1/session",
      transport: "http2" as const,
    };
    for (let i = 0; i < 5; i++) reporter.refused({ ...refusal, address: `10.0.0.${i}` });
    expect(reported).toHaveLength(1);
    // No sixth refusal comes: the end of the interval reports the fifth, and the three between.
    await within(
      new Promise<void>((resolve) => {
        const poll = setInterval(() => reported.length === 2 && (clearInterval(poll), resolve()), 10);
      }),
      5000,
      "the burst's summary",
    );
    expect(reported[1]).toMatchObject({ address: "10.0.0.4", suppressed: 3 });
    expect(reported.reduce((sum, r) => sum + 1 + r.suppressed, 0)).toBe(5);
    // A path of pub/sub over HTTP is the pubsub face.
    reporter.refused({ ...refusal, status: 503, code: "ELIMIT", path: "/beamhub/v1/pubsub/news" });
    expect(reported.at(-1)).toMatchObject({ status: 503, face: "pubsub" });
  });

  it("counts refusals in the metrics by status, face and code, those left out of the log included", async () => {
    const metrics = hubMetrics(new Hub(), { defaultMetrics: false });
    const base = { reason: "r", method: "GET", path: "/", transport: "websocket" as const };
    metrics.countRefusal({ ...base, status: 409, code: "EMLES_DUPLICATE", face: "mles", suppressed: 0 });
    metrics.countRefusal({ ...base, status: 409, code: "EMLES_DUPLICATE", face: "mles", suppressed: 4 });
    metrics.countRefusal({ ...base, status: 401, code: "not one of ours", suppressed: 0 });
    const text = await metrics.registry.metrics();
    expect(text).toContain('beamhub_https_refused_total{status="409",face="mles",code="EMLES_DUPLICATE"} 6');
    expect(text).toContain('beamhub_https_refused_total{status="401",face="beamhub",code="other"} 1');
  });

  it("a report function that throws does not escape", () => {
    const reporter = new RefusalReporter(() => {
      throw new Error("log is broken");
    });
    expect(() =>
      reporter.refused({ status: 403, reason: "no", method: "GET", path: "/", transport: "http" }),
    ).not.toThrow();
  });
});
