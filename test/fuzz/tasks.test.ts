/**
 * The task API under hostile requests, over real HTTP: bodies shaped like tasks and results with
 * hostile values, raw garbage, odd ids, durations and query strings, every method, from known
 * and unknown applications. Every answer is one of the API's statuses (never a 500), the listener
 * keeps serving a bystander, and the broker holds no waiter after the requests end. The socket
 * routes too (`/v1/sockets`, with and without an upgrade, hostile metadata headers): no socket
 * task or relay is left behind.
 */
import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenTasksHttp, type TasksHttpListener } from "../../tasks/rest/listen-http.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { APP1, APP2, RestClient, aResult, aTask, auth } from "../tasks/helpers.js";
import { rawRequest } from "../tasks/raw-http.js";
import { fuzzParameters, timeLimit } from "./settings.js";

const STATUSES = new Set([101, 200, 201, 204, 206, 400, 401, 403, 404, 405, 409, 410, 413, 424, 426, 429]);

let broker: TaskBroker;
let listener: TasksHttpListener;
let rest: RestClient;
const known = randomUUID();

beforeAll(async () => {
  broker = await TaskBroker.open({
    id: "proxy1.broker",
    apiKeys: { app1: "App1Secret", app2: "App1Secret" },
    // Socket tasks nobody joins end fast (410), so that a request that waits for a peer is short.
    limits: { maxBodyBytes: 64 * 1024, maxTasksPerApp: 500, socketTtlMs: 30 },
  });
  listener = await listenTasksHttp(broker);
  rest = new RestClient(`http://127.0.0.1:${listener.port}`);
  expect((await rest.request("POST", "/v1/tasks", APP1, aTask({ id: known, to: [APP1, APP2] }))).status).toBe(
    201,
  );
});

afterAll(async () => {
  await listener.close();
  await broker.close();
});

const hostileValue = fc.oneof(
  fc.string(),
  fc.constantFrom(
    "",
    "-1",
    "1e999",
    "NaN",
    "proxy1.broker",
    "app1.proxy1.broker",
    "x.y.z.proxy1.broker",
    "../..",
    "\u0000",
    "🙂.proxy1.broker",
  ),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.object({ maxDepth: 2 }),
);

/** A task or result with some fields replaced by hostile values, or raw text. */
const body = fc.oneof(
  fc
    .record({
      field: fc.constantFrom("id", "from", "to", "body", "ttl", "failure_strategy", "metadata"),
      value: hostileValue,
    })
    .map(({ field, value }) => JSON.stringify({ ...aTask(), [field]: value })),
  fc
    .record({
      field: fc.constantFrom("from", "to", "task", "status", "body", "metadata"),
      value: hostileValue,
    })
    .map(({ field, value }) => JSON.stringify({ ...aResult(known, "claimed"), [field]: value })),
  fc.string({ maxLength: 200 }),
  fc.constant(undefined),
);

const segment = fc.oneof(
  fc.constant(known),
  fc.uuid(),
  fc.constantFrom(APP1, APP2, "%00", "..", "", "results"),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);
const query = fc
  .array(
    fc.tuple(
      fc.constantFrom("from", "to", "filter", "wait_count", "wait_time", "x"),
      fc.oneof(hostileValue.map(String), fc.constantFrom("todo", "1", "50ms", "0")),
    ),
    { maxLength: 3 },
  )
  .map((pairs) =>
    new URLSearchParams(pairs.map(([key, value]): [string, string] => [key, value.slice(0, 40)])).toString(),
  );

const request = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
  path: fc.oneof(
    fc.constant("/v1/tasks"),
    segment.map((id) => `/v1/tasks/${id}`),
    segment.map((id) => `/v1/tasks/${id}/results`),
    fc.tuple(segment, segment).map(([id, app]) => `/v1/tasks/${id}/results/${app}`),
    fc.constant("/v1/sockets"),
    segment.map((idOrApp) => `/v1/sockets/${idOrApp}`),
  ),
  /** For socket routes: ask for the upgrade (over a raw connection: fetch cannot), with this metadata header. */
  upgrade: fc.option(
    fc.oneof(
      fc.constant('{"a":1}'),
      hostileValue.map((value) => String(value).slice(0, 40)),
    ),
  ),
  query,
  app: fc.constantFrom(APP1, APP2, "app9.proxy1.broker"),
  sse: fc.boolean(),
  body,
});

describe("the task API under hostile requests", () => {
  it("answers each with one of its statuses and keeps serving", { timeout: timeLimit(60_000) }, async () => {
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (input) => {
        // Long polls are bounded so that the property's run stays short.
        const search = new URLSearchParams(input.query);
        if (search.has("wait_count") || search.has("wait_time") || input.path === "/v1/sockets")
          search.set("wait_time", "20ms");
        if (input.path.startsWith("/v1/sockets/") && input.upgrade !== null) {
          const metadata = input.upgrade.replace(/[^\x20-\x7e]/g, "");
          const raw = await rawRequest(listener.port, input.method, `${input.path}?${search.toString()}`, {
            ...auth(input.app),
            upgrade: "tcp",
            ...(metadata === "" ? {} : { metadata }),
          });
          raw.socket.destroy();
          seen.set(raw.status, (seen.get(raw.status) ?? 0) + 1);
          expect(STATUSES.has(raw.status), `${input.method} ${input.path} upgrade -> ${raw.status}`).toBe(
            true,
          );
          return;
        }
        const answer = await rest.request(
          input.method,
          `${input.path}?${search.toString()}`,
          input.app,
          input.method === "GET" ? undefined : input.body,
          input.sse ? { accept: "text/event-stream" } : {},
        );
        seen.set(answer.status, (seen.get(answer.status) ?? 0) + 1);
        expect(
          STATUSES.has(answer.status),
          `${input.method} ${input.path}?${search} -> ${answer.status} ${answer.text.slice(0, 200)}`,
        ).toBe(true);
      }),
      fuzzParameters("task API requests", 300),
    );
    expect((await rest.request("GET", "/v1/health", undefined)).status).toBe(200);
    expect((await rest.request("GET", `/v1/tasks/${known}`, APP2)).status).toBe(200);
    expect(broker.waiting).toBe(0);
    expect(broker.sockets.open).toBe(0);
    expect(broker.sockets.pending).toBe(0);
    // The property reached past authentication and validation, not only the 401 door.
    expect([...seen.keys()].filter((status) => status !== 401 && status !== 400).length).toBeGreaterThan(2);
  });
});
