// Fuzzing the HTTPS routes an operator's tools reach: /metrics (behind auth), /healthz, /readyz,
// the dashboard (/beamhub/ui, its files and its event stream) and /v1/health/proxies (behind a
// monitoring key), mounted as `beamhub serve` mounts them, on a real TLS listener in this
// process. Hostile methods, paths, headers, credentials and bodies over raw HTTP/1.1 (bytes no
// client library would send) and over HTTP/2; huge headers, bodies that never end, requests that
// stall mid-header, event streams cut at once. Every request gets a status (never a 5xx), the
// listener keeps serving a bystander, and afterwards no connection, viewer or fd is left.
import { readdir } from "node:fs/promises";
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  healthRoutes,
  Hub,
  hubMetrics,
  httpsMetricsAccess,
  listenHttps,
  type HttpsListener,
  type Identity,
} from "../../index.js";
import { taskRequestListener } from "../../tasks/rest/task-routes.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { within } from "../compliance/suite.js";
import { fuzzParameters, timeLimit } from "./settings.js";

const ALICE = "alice-token-5f4dcc3b"; // may read the figures
const BOB = "bob-token-0cc175b9"; // authenticated, may not
const MONITORING_KEY = "monitoring-key-92eb5ffe";

/** What these routes may answer: never a 5xx but 503 (a viewer cap, readiness), never 500. */
const STATUSES = new Set([200, 204, 400, 401, 403, 404, 405, 411, 413, 414, 415, 426, 431, 503]);

let hub: Hub;
let broker: TaskBroker;
let listener: HttpsListener;
let baselineFds = 0;
const statuses = new Map<number, number>();

beforeAll(async () => {
  hub = new Hub();
  const authenticate = (token: string): Identity | undefined =>
    token === ALICE ? { id: "alice", via: "token" } : token === BOB ? { id: "bob", via: "token" } : undefined;
  hub.authorize({ call: (identity: Identity | undefined) => identity?.id === "alice" });
  broker = await TaskBroker.open({ id: "proxy1.broker", apiKeys: { app1: "App1Secret" } });
  const metrics = hubMetrics(hub, { defaultMetrics: false });
  const health = healthRoutes({
    registry: metrics.registry,
    readiness: [{ name: "hub", check: () => true }],
    authorize: httpsMetricsAccess(hub, { authenticate }),
  });
  const tasks = taskRequestListener(broker, {
    proxies: { connected: () => Promise.resolve(["site1"]), status: () => Promise.resolve(undefined) },
    monitoringKey: MONITORING_KEY,
  });
  listener = await listenHttps(hub, {
    authenticate,
    // A request stalled mid-header is cut after this (the slow-loris guard), not after 20 s.
    establishTimeout: 1000,
    otherRequests: (request, response) => {
      if (!health(request, response)) tasks(request, response);
    },
  });
  await settleConnections();
  baselineFds = await fdCount();
});

afterAll(async () => {
  await listener?.close();
  await broker?.close();
  await hub?.close();
});

async function fdCount(): Promise<number> {
  return (await readdir("/proc/self/fd")).length;
}

/** Waits (bounded) until the listener holds no connection. */
async function settleConnections(): Promise<void> {
  await within(
    (async () => {
      while (listener.connectionCount > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    15_000,
    `the listener's ${listener.connectionCount} connections to close`,
  );
}

/**
 * Sends `bytes` on a fresh TLS connection (HTTP/1.1) and resolves to the status of the answer,
 * or "closed" when the server closed without one; the connection is then destroyed (an event
 * stream is cut as soon as it starts).
 */
function rawExchange(
  bytes: Buffer | string,
  keepSending?: (socket: TLSSocket) => void,
): Promise<number | "closed"> {
  return within(
    new Promise<number | "closed">((resolve, reject) => {
      const socket = tlsConnect({
        host: "127.0.0.1",
        port: listener.port,
        ca: listener.certificate,
        ALPNProtocols: ["http/1.1"],
        servername: "localhost",
      });
      let head = "";
      const done = (result: number | "closed"): void => {
        resolve(result);
        socket.destroy();
      };
      socket.on("secureConnect", () => {
        socket.write(bytes);
        keepSending?.(socket);
      });
      socket.on("data", (chunk: Buffer) => {
        head += chunk.toString("latin1");
        // The final status: a 100 Continue (to `Expect: 100-continue`) comes first.
        for (const match of head.matchAll(/HTTP\/1\.1 (\d{3})[^\r]*\r\n/g)) {
          if (!match[1]!.startsWith("1")) return done(Number(match[1]));
        }
        if (!head.startsWith("HTTP/1.1 "))
          reject(new Error(`not an HTTP answer: ${JSON.stringify(head.slice(0, 64))}`));
      });
      socket.on("error", () => undefined); // a reset after the answer, or instead of one
      socket.on("close", () => done("closed"));
    }),
    10_000,
    "an answer",
  );
}

const ROUTES = [
  "/metrics",
  "/healthz",
  "/readyz",
  "/beamhub/ui",
  "/beamhub/ui/",
  "/beamhub/ui/events",
  "/beamhub/ui/dashboard.js",
  "/beamhub/ui/index.html",
  "/v1/health/proxies/site1",
  "/v1/health/proxies/",
];
const path = fc.oneof(
  fc.constantFrom(...ROUTES),
  fc
    .tuple(
      fc.constantFrom(...ROUTES),
      fc.constantFrom(
        "",
        "/",
        "//",
        "/..",
        "/../../etc/passwd",
        "%2e%2e/",
        "%00",
        "%",
        "%zz",
        "?",
        "?interval=0",
        "?interval=-1",
        "?interval=1e309",
        "?interval=250",
        "?token=x",
        "#frag",
        ";x",
        "\u00e9",
        "x".repeat(3000),
      ),
      fc.constantFrom("", "?a=1&a=2", "?%ff", "?" + "q".repeat(500)),
    )
    .map(([base, tail, query]) => base + tail + query),
  fc.string({ maxLength: 40 }).map((tail) => `/beamhub/ui/${encodeURIComponent(tail)}`),
);
const method = fc.oneof(
  fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH", "TRACE", "CONNECT", "PRI"),
  fc.stringMatching(/^[A-Z]{1,12}$/),
);
const credentials = fc.constantFrom(
  [],
  [`Authorization: Bearer ${ALICE}`],
  [`Authorization: Bearer ${BOB}`],
  ["Authorization: Bearer "],
  ["Authorization: Bearer x y z"],
  [`Authorization: Basic ${Buffer.from(`:${MONITORING_KEY}`).toString("base64")}`],
  [`Authorization: Basic ${Buffer.from("user:wrong").toString("base64")}`],
  ["Authorization: Basic !!!not-base64"],
  ["Authorization: Negotiate abc"],
  [`Authorization: Bearer ${ALICE}`, `Authorization: Bearer ${BOB}`],
  [`Authorization: Bearer ${"t".repeat(8000)}`],
);
const extraHeaders = fc.subarray([
  "Accept: text/event-stream",
  "Last-Event-ID: \u0000garbage",
  "Origin: https://evil.example",
  "Origin: null",
  "X-Forwarded-For: 10.0.0.1, ::1, not-an-address",
  "Content-Type: application/json",
  "Content-Type: text/event-stream; charset=\u00ff",
  "Transfer-Encoding: chunked",
  "Expect: 100-continue",
  "Connection: upgrade",
  "Upgrade: websocket",
  "Cookie: session=abc",
  "Range: bytes=0-10",
  "If-None-Match: *",
]);
const body = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 200 }),
  fc.constant("{".repeat(1000)),
  fc.uint8Array({ maxLength: 300 }).map((bytes) => Buffer.from(bytes).toString("latin1")),
);

describe("observability routes under fuzz", () => {
  it(
    "answer any HTTP/1.1 request with a status, never a 5xx but 503",
    async () => {
      await fc.assert(
        fc.asyncProperty(
          method,
          path,
          credentials,
          extraHeaders,
          body,
          async (m, p, auth, headers, content) => {
            const chunked = headers.includes("Transfer-Encoding: chunked");
            const lines = [
              `${m} ${p} HTTP/1.1`,
              "Host: localhost",
              ...auth,
              ...headers,
              ...(chunked ? [] : [`Content-Length: ${Buffer.byteLength(content, "latin1")}`]),
              "",
              "",
            ];
            const payload = chunked
              ? `${Buffer.byteLength(content, "latin1").toString(16)}\r\n${content}\r\n0\r\n\r\n`
              : content;
            const status = await rawExchange(Buffer.from(lines.join("\r\n") + payload, "latin1"));
            statuses.set(
              status === "closed" ? 0 : status,
              (statuses.get(status === "closed" ? 0 : status) ?? 0) + 1,
            );
            // Node closes without an answer only for requests it cannot parse at all (and answers
            // 400 to most of those); every route answered with a status we expect.
            if (status !== "closed") expect(STATUSES, `${m} ${p}: ${status}`).toContain(status);
          },
        ),
        fuzzParameters("observability routes, HTTP/1.1", 100),
      );
      // Most requests got an answer, and every kind of answer showed up.
      const answered = [...statuses].filter(([status]) => status !== 0).reduce((sum, [, n]) => sum + n, 0);
      expect(answered).toBeGreaterThan(80);
      for (const status of [200, 401, 403, 404, 405]) expect(statuses.get(status) ?? 0).toBeGreaterThan(0);
      await bystander("after the HTTP/1.1 requests");
    },
    timeLimit(60_000),
  );

  it(
    "answer any HTTP/2 request with a status, on one connection that stays usable",
    async () => {
      let session: ClientHttp2Session | undefined;
      const client = (): ClientHttp2Session => {
        if (session === undefined || session.closed || session.destroyed) {
          session = http2Connect(listener.url, { ca: listener.certificate });
          session.on("error", () => undefined);
        }
        return session;
      };
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.constantFrom("GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"),
            path.filter((p) => !/[\u0080-\uffff#]/.test(p)),
            credentials,
            body,
            async (m, p, auth, content) => {
              const headers: Record<string, string> = { ":method": m, ":path": p };
              for (const line of auth.slice(0, 1))
                headers.authorization = line.slice("Authorization: ".length);
              const status = await within(
                new Promise<number>((resolve, reject) => {
                  const stream = client().request(headers, { endStream: m === "GET" || m === "HEAD" });
                  stream.once("response", (answer) => {
                    resolve(Number(answer[":status"]));
                    stream.close(); // an event stream is cut at once
                  });
                  stream.once("error", reject);
                  stream.on("data", () => undefined);
                  if (m !== "GET" && m !== "HEAD") stream.end(content);
                }),
                10_000,
                `${m} ${p} over HTTP/2`,
              );
              expect(STATUSES, `${m} ${p}: ${status}`).toContain(status);
            },
          ),
          fuzzParameters("observability routes, HTTP/2", 80),
        );
      } finally {
        session?.close();
      }
      await bystander("after the HTTP/2 requests");
    },
    timeLimit(60_000),
  );

  it(
    "survive huge headers, bodies that never end, stalled requests and cut event streams",
    async () => {
      // A header of 100 KiB: Node's limit (16 KiB) answers 431.
      expect(
        await rawExchange(`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"b".repeat(100_000)}\r\n\r\n`),
      ).toBe(431);
      // A body announced at 1 GiB to routes that take none: answered at once, not read to the end.
      for (const route of ["/metrics", "/healthz", "/beamhub/ui", "/v1/health/proxies/site1"]) {
        const status = await rawExchange(
          `POST ${route} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\nContent-Length: 1073741824\r\n\r\n`,
          (socket) => socket.write(Buffer.alloc(256 * 1024, 0x61)),
        );
        expect([401, 405, 413], `POST ${route}`).toContain(status);
      }
      // Requests that stall mid-header are cut by the slow-loris guard (establishTimeout 1 s).
      const stalled = await Promise.all(
        Array.from({ length: 5 }, () => rawExchange("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")),
      );
      expect(stalled).toEqual(Array(5).fill("closed"));
      // Event streams cut as soon as they start, more than the viewer cap (16): none is left
      // counted, so the next viewer is served.
      for (let i = 0; i < 40; i++) {
        expect(
          await rawExchange(
            `GET /beamhub/ui/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\n\r\n`,
          ),
        ).toBe(200);
      }
      await bystander("after huge, endless, stalled and cut requests");
    },
    timeLimit(60_000),
  );

  it("leaves no connection and no fd behind", async () => {
    await settleConnections();
    // The process's fds (sockets of this test's clients included) come back near the start.
    let fds = await fdCount();
    for (let waited = 0; fds > baselineFds + 8 && waited < 10_000; waited += 200) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      fds = await fdCount();
    }
    expect(fds, `open fds: ${fds}, ${baselineFds} before`).toBeLessThanOrEqual(baselineFds + 8);
    expect(listener.sessionCount).toBe(0);
    expect(broker.waiting).toBe(0);
  }, 30_000);
});

/** The listener still serves a well-behaved client: health, metrics, a dashboard viewer. */
async function bystander(what: string): Promise<void> {
  expect(await rawExchange("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"), `/healthz ${what}`).toBe(200);
  expect(
    await rawExchange(`GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\n\r\n`),
    `/metrics ${what}`,
  ).toBe(200);
  expect(
    await rawExchange(`GET /beamhub/ui/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ALICE}\r\n\r\n`),
    `a dashboard viewer ${what}`,
  ).toBe(200);
}
