/**
 * The task REST face over real HTTP, status code by status code, as Samply.Beam's code answers
 * (shared/reference/samply-beam-spec.md): the README walkthrough, credentials, task and result
 * rules, long polls (bounded waits), TTL expiry and limits.
 */
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { listenTasksHttp, type TasksHttpListener } from "../../tasks/rest/listen-http.js";
import { TaskBroker } from "../../tasks/task-broker.js";
import { APP1, APP2, APP3, KEYS, RestClient, aResult, aTask, auth } from "./helpers.js";

let broker: TaskBroker;
let listener: TasksHttpListener;
let rest: RestClient;

beforeAll(async () => {
  broker = await TaskBroker.open({
    id: "proxy1.broker",
    apiKeys: { app3: KEYS.app3 },
    env: { APP_app1_KEY: KEYS.app1, APP_app2_KEY: KEYS.app2, UNRELATED: "x" },
    limits: { maxBodyBytes: 64 * 1024, maxTasksPerApp: 50 },
    sweepInterval: 50,
  });
  listener = await listenTasksHttp(broker);
  rest = new RestClient(`http://127.0.0.1:${listener.port}`);
});

afterAll(async () => {
  await listener.close();
  await broker.close();
});

describe("the README walkthrough on one hub", () => {
  it("posts a task, finds it to do, claims it, answers it, and the sender reads the answer", async () => {
    const task = aTask({ id: "70c0aa90-bfcf-4312-a6af-42cbd57dc0b8" });
    const posted = await rest.request("POST", "/v1/tasks", APP1, task);
    expect(posted.status).toBe(201);
    expect(posted.headers.get("location")).toBe(`/v1/tasks/${task.id}`);

    const todo = await rest.request("GET", "/v1/tasks?filter=todo", APP2);
    expect(todo.status).toBe(200);
    const listed = todo.json() as Record<string, unknown>[];
    expect(listed.map((t) => t.id)).toContain(task.id);
    const mine = listed.find((t) => t.id === task.id)!;
    expect({ ...mine, ttl: undefined }).toEqual({ ...task, ttl: undefined });
    expect(Number(mine.ttl)).toBeGreaterThanOrEqual(58);
    expect(Number(mine.ttl)).toBeLessThanOrEqual(60);

    const claim = aResult(String(task.id), "claimed", { id: randomUUID() });
    const claimed = await rest.request("PUT", `/v1/tasks/${task.id}/results/${APP2}`, APP2, claim);
    expect(claimed.status).toBe(201);
    const answer = aResult(String(task.id), "succeeded", { body: "The answer is 42" });
    const answered = await rest.request("PUT", `/v1/tasks/${task.id}/results/${APP2}`, APP2, answer);
    expect(answered.status).toBe(204);

    const results = await rest.request("GET", `/v1/tasks/${task.id}/results?wait_count=1`, APP1);
    expect(results.status).toBe(200);
    expect(results.json()).toEqual([answer]);
    const stillTodo = (await rest.request("GET", "/v1/tasks?filter=todo", APP2)).json() as { id: string }[];
    expect(stillTodo.map((t) => t.id)).not.toContain(task.id);
  });
});

describe("credentials", () => {
  it.each([
    ["no header", {}],
    ["a bad scheme", { authorization: `Bearer ${APP1} App1Secret` }],
    ["an unknown app", { authorization: "ApiKey app9.proxy1.broker App1Secret" }],
    ["no key", { authorization: `ApiKey ${APP1}` }],
    ["a wrong key", { authorization: `ApiKey ${APP1} nope` }],
    ["another hub's app", { authorization: "ApiKey app1.proxy2.broker App1Secret" }],
  ])("%s is 401 with WWW-Authenticate: ApiKey", async (_, headers) => {
    const answer = await rest.request("GET", "/v1/tasks?filter=todo", headers as Record<string, string>);
    expect(answer.status).toBe(401);
    expect(answer.headers.get("www-authenticate")).toBe("ApiKey");
  });

  it("keys from the environment and from the options both work; health needs none", async () => {
    expect((await rest.request("GET", "/v1/tasks?filter=todo", APP3)).status).toBe(200);
    expect((await rest.request("GET", "/v1/tasks?filter=todo", APP1)).status).toBe(200);
    const health = await rest.request("GET", "/v1/health", undefined);
    expect(health.status).toBe(200);
    expect(health.json()).toMatchObject({ summary: "healthy" });
  });

  it("a task or result sent on behalf of another app is 401", async () => {
    const spoofed = await rest.request("POST", "/v1/tasks", APP1, aTask({ from: APP2 }));
    expect(spoofed.status).toBe(401);
    expect(spoofed.text).toBe("You are not authorized to send on behalf of this app.");
  });
});

describe("posting tasks", () => {
  it("refuses a live duplicate id with 409, and takes an expired one's id again", async () => {
    const task = aTask({ ttl: "300ms" });
    expect((await rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
    expect((await rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(409);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect((await rest.request("GET", `/v1/tasks/${task.id}`, APP1)).status).toBe(404);
    expect((await rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
  });

  it.each([
    ["malformed JSON", "{not json", "Invalid body"],
    ["a non-UUID id", aTask({ id: "task-1" }), "UUID"],
    ["no metadata", { ...aTask(), metadata: undefined }, "metadata"],
    ["a bad ttl", aTask({ ttl: "soon" }), "ttl"],
    ["a number body", aTask({ body: 42 }), "body"],
    ["a bad failure strategy", aTask({ failure_strategy: "retry" }), "failure_strategy"],
    ["a recipient with a bad label", aTask({ to: ["app 2.proxy1.broker"] }), "invalid id"],
    ["a broker as recipient", aTask({ to: ["broker"] }), "broker id"],
    ["an empty body", undefined, "a task"],
  ])("answers %s with 400 and the reason", async (_, body, reason) => {
    const answer = await rest.request("POST", "/v1/tasks", APP1, body);
    expect(answer.status).toBe(400);
    expect(answer.text).toContain(reason);
  });

  it("answers recipients on unreachable hubs with 424 and the hubs, creating nothing", async () => {
    const task = aTask({ to: [APP2, "app2.proxy2.broker", "proxy3.broker", "x.proxy2.broker"] });
    const answer = await rest.request("POST", "/v1/tasks", APP1, task);
    expect(answer.status).toBe(424);
    expect(answer.json()).toEqual(["proxy2.broker", "proxy3.broker"]);
    expect((await rest.request("GET", `/v1/tasks/${task.id}`, APP1)).status).toBe(404);
  });

  it("bounds the body (413) and the live tasks per app (429)", async () => {
    const big = await rest.request(
      "POST",
      "/v1/tasks",
      APP3,
      aTask({ from: APP3, body: "x".repeat(70 * 1024) }),
    );
    expect(big.status).toBe(413);
    const statuses: number[] = [];
    for (let i = 0; i < 51; i++)
      statuses.push((await rest.request("POST", "/v1/tasks", APP3, aTask({ from: APP3 }))).status);
    expect(statuses.slice(0, 50).every((status) => status === 201)).toBe(true);
    expect(statuses[50]).toBe(429);
  });
});

describe("reading tasks", () => {
  it("needs from, to or filter=todo (400), and only the requester's own (403)", async () => {
    expect((await rest.request("GET", "/v1/tasks", APP1)).status).toBe(400);
    expect((await rest.request("GET", `/v1/tasks?from=${APP2}`, APP1)).status).toBe(403);
    expect((await rest.request("GET", `/v1/tasks?to=${APP2}`, APP1)).status).toBe(403);
    expect((await rest.request("GET", "/v1/tasks?filter=done", APP1)).status).toBe(400);
    const task = aTask();
    await rest.request("POST", "/v1/tasks", APP1, task);
    const sent = (await rest.request("GET", `/v1/tasks?from=${APP1}`, APP1)).json() as { id: string }[];
    expect(sent.map((t) => t.id)).toContain(task.id);
  });

  it("keeps a tempfailed task to do, drops a claimed or finished one", async () => {
    const todoIds = async (): Promise<string[]> =>
      ((await rest.request("GET", "/v1/tasks?filter=todo", APP2)).json() as { id: string }[]).map(
        (t) => t.id,
      );
    for (const [status, stays] of [
      ["tempfailed", true],
      ["claimed", false],
      ["permfailed", false],
    ] as const) {
      const task = aTask();
      await rest.request("POST", "/v1/tasks", APP1, task);
      await rest.request(
        "PUT",
        `/v1/tasks/${task.id}/results/${APP2}`,
        APP2,
        aResult(String(task.id), status),
      );
      expect((await todoIds()).includes(String(task.id)), status).toBe(stays);
    }
  });

  it("shows one task to its sender and workers only; an unknown id is 404 at once", async () => {
    const task = aTask();
    await rest.request("POST", "/v1/tasks", APP1, task);
    expect((await rest.request("GET", `/v1/tasks/${task.id}`, APP1)).status).toBe(200);
    expect((await rest.request("GET", `/v1/tasks/${task.id}`, APP2)).json()).toMatchObject({ id: task.id });
    expect((await rest.request("GET", `/v1/tasks/${task.id}`, APP3)).status).toBe(404);
    const started = Date.now();
    expect((await rest.request("GET", `/v1/tasks/${randomUUID()}`, APP1)).status).toBe(404);
    expect(Date.now() - started).toBeLessThan(2000);
    expect((await rest.request("GET", `/v1/tasks/${task.id}?wait_count=2`, APP1)).status).toBe(400);
  });

  it("answers 400, not 500, to a malformed percent escape in a task id", async () => {
    for (const path of [
      "/v1/tasks/%zz",
      "/v1/tasks/%E0%A4%A/results",
      "/v1/tasks/%zz/results/app2.proxy1.broker",
    ]) {
      const method = path.endsWith(".broker") ? "PUT" : "GET";
      const answer = await rest.request(
        method,
        path,
        method === "PUT" ? APP2 : APP1,
        method === "PUT" ? {} : undefined,
      );
      expect(answer.status, path).toBe(400);
    }
  });
});

describe("results", () => {
  it("checks path against body (400), the worker (403) and the task (404)", async () => {
    const task = aTask();
    await rest.request("POST", "/v1/tasks", APP1, task);
    const id = String(task.id);
    const other = randomUUID();
    expect(
      (await rest.request("PUT", `/v1/tasks/${other}/results/${APP2}`, APP2, aResult(id, "claimed"))).text,
    ).toBe("Task IDs supplied in path and payload do not match.");
    const wrongApp = await rest.request(
      "PUT",
      `/v1/tasks/${id}/results/${APP3}`,
      APP2,
      aResult(id, "claimed"),
    );
    expect([wrongApp.status, wrongApp.text]).toEqual([
      400,
      "AppID supplied in URL and signed message do not match.",
    ]);
    const notWorker = await rest.request(
      "PUT",
      `/v1/tasks/${id}/results/${APP3}`,
      APP3,
      aResult(id, "claimed", { from: APP3 }),
    );
    expect(notWorker.status).toBe(403);
    const unknown = await rest.request(
      "PUT",
      `/v1/tasks/${other}/results/${APP2}`,
      APP2,
      aResult(other, "claimed"),
    );
    expect(unknown.status).toBe(404);
    expect(
      (await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "done"))).status,
    ).toBe(400);
    expect((await rest.request("GET", `/v1/tasks/${id}/results`, APP2)).status).toBe(403);
  });

  it("never lets a late claim undo a success", async () => {
    const task = aTask();
    await rest.request("POST", "/v1/tasks", APP1, task);
    const id = String(task.id);
    await rest.request(
      "PUT",
      `/v1/tasks/${id}/results/${APP2}`,
      APP2,
      aResult(id, "succeeded", { body: "42" }),
    );
    await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "claimed"));
    expect((await rest.request("GET", `/v1/tasks/${id}/results`, APP1)).json()).toMatchObject([
      { status: "succeeded" },
    ]);
  });

  it("long-polls: wakes when the answer comes, does not count claims, and answers 206 when short", async () => {
    const task = aTask({ to: [APP2, APP3] });
    await rest.request("POST", "/v1/tasks", APP1, task);
    const id = String(task.id);
    const waiting = rest.request("GET", `/v1/tasks/${id}/results?wait_count=1&wait_time=5s`, APP1);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "claimed"));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = Date.now();
    await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "succeeded"));
    const answer = await waiting;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(answer.status).toBe(200);
    expect(answer.json()).toMatchObject([{ status: "succeeded" }]);

    const short = await rest.request("GET", `/v1/tasks/${id}/results?wait_count=2&wait_time=200ms`, APP1);
    expect(short.status).toBe(206);
    const bareNumberIsMs = Date.now();
    await rest.request("GET", `/v1/tasks/${id}/results?wait_count=2&wait_time=150`, APP1);
    expect(Date.now() - bareNumberIsMs).toBeLessThan(1000);
    expect((await rest.request("GET", `/v1/tasks/${id}/results?wait_time=soon`, APP1)).status).toBe(400);
  });

  it("long-polls the todo list until a task arrives", async () => {
    const before = ((await rest.request("GET", "/v1/tasks?filter=todo", APP3)).json() as unknown[]).length;
    const waiting = rest.request("GET", `/v1/tasks?filter=todo&wait_count=${before + 1}&wait_time=5s`, APP3);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await rest.request("POST", "/v1/tasks", APP1, aTask({ to: [APP3] }));
    const answer = await waiting;
    expect(answer.status).toBe(200);
    expect((answer.json() as unknown[]).length).toBe(before + 1);
  });
});

describe("server-sent events", () => {
  async function events(
    path: string,
    app: string,
  ): Promise<{ status: number; type: string | null; events: { event: string; data: unknown }[] }> {
    const response = await fetch(`${rest.base}${path}`, {
      headers: { ...auth(app), accept: "text/event-stream" },
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (response.status !== 200)
      return { status: response.status, type: response.headers.get("content-type"), events: [] };
    const parsed = text
      .split("\n\n")
      .filter((frame) => frame !== "")
      .map((frame) => {
        const [event, data] = frame.split("\n");
        return {
          event: event!.replace(/^event: /, ""),
          data: JSON.parse(data!.replace(/^data: /, "")) as unknown,
        };
      });
    return { status: response.status, type: response.headers.get("content-type"), events: parsed };
  }

  it("sends claimed, claimed, succeeded and ends at wait_count=1", async () => {
    const task = aTask();
    await rest.request("POST", "/v1/tasks", APP1, task);
    const id = String(task.id);
    const stream = events(`/v1/tasks/${id}/results?wait_count=1&wait_time=5s`, APP1);
    for (const status of ["claimed", "claimed", "succeeded"]) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, status));
    }
    const answer = await stream;
    expect(answer.type).toBe("text/event-stream");
    expect(answer.events.map((e) => [e.event, (e.data as { status: string }).status])).toEqual([
      ["new_result", "claimed"],
      ["new_result", "claimed"],
      ["new_result", "succeeded"],
    ]);
  });

  it("ends with wait_expired null when the time runs out, and says 404 before streaming", async () => {
    const task = aTask({ to: [APP2, APP3] });
    await rest.request("POST", "/v1/tasks", APP1, task);
    const id = String(task.id);
    await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "succeeded"));
    const answer = await events(`/v1/tasks/${id}/results?wait_count=3&wait_time=300ms`, APP1);
    expect(answer.events.map((e) => e.event)).toEqual(["new_result", "wait_expired"]);
    expect(answer.events[1]!.data).toBeNull();
    expect((await events(`/v1/tasks/${randomUUID()}/results`, APP1)).status).toBe(404);
  });

  it("says the task expired when it does", async () => {
    const task = aTask({ ttl: "300ms" });
    await rest.request("POST", "/v1/tasks", APP1, task);
    const answer = await events(`/v1/tasks/${task.id}/results?wait_count=1&wait_time=5s`, APP1);
    expect(answer.events).toEqual([{ event: "wait_expired", data: "Task expired" }]);
  });
});
