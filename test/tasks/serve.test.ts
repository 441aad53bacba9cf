/**
 * `beamhub serve` as Samply applications meet it: the command from examples/tasks.md, the
 * README walkthrough over its plain-HTTP listener, usage errors, and tasks kept across a restart.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { beamhub, startCli, type RunningCli } from "../cli/helpers.js";
import { curl } from "../http2/helpers.js";
import { APP1, APP2, RestClient, aResult, aTask } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "beamhub-serve-tasks-"));
const running: RunningCli[] = [];

afterEach(async () => {
  for (const cli of running.splice(0)) await cli.stop();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function serveTasks(name: string): Promise<RestClient> {
  const cli = await startCli(
    [
      "serve",
      "--socket",
      join(dir, `${name}.sock`),
      "--listen-https",
      "off",
      "--id",
      "proxy1.broker",
      "--listen-http",
      "127.0.0.1:0",
      "--tasks-file",
      join(dir, `${name}.kvlog`),
    ],
    /REST on (http:\/\/127\.0\.0\.1:\d+)\/v1\/tasks/,
    { APP_app1_KEY: "App1Secret", APP_app2_KEY: "App1Secret" },
  );
  running.push(cli);
  expect(cli.stderr()).toContain("applications app1.proxy1.broker, app2.proxy1.broker");
  return new RestClient(cli.match[1]!);
}

describe("beamhub serve with tasks", () => {
  it(
    "runs the walkthrough over --listen-http and keeps the tasks across a restart",
    { timeout: 60_000 },
    async () => {
      let rest = await serveTasks("walkthrough");
      expect((await rest.request("GET", "/v1/health", undefined)).status).toBe(200);
      const task = aTask();
      const id = String(task.id);
      expect((await rest.request("POST", "/v1/tasks", APP1, task)).status).toBe(201);
      expect(
        ((await rest.request("GET", "/v1/tasks?filter=todo", APP2)).json() as { id: string }[]).map(
          (t) => t.id,
        ),
      ).toEqual([id]);
      expect(
        (await rest.request("PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, aResult(id, "claimed"))).status,
      ).toBe(201);

      await running.pop()!.stop();
      rest = await serveTasks("walkthrough");
      expect(
        (
          await rest.request(
            "PUT",
            `/v1/tasks/${id}/results/${APP2}`,
            APP2,
            aResult(id, "succeeded", { body: "42" }),
          )
        ).status,
      ).toBe(204);
      const results = await rest.request("GET", `/v1/tasks/${id}/results?wait_count=1`, APP1);
      expect(results.json()).toMatchObject([{ status: "succeeded", body: "42" }]);
    },
  );

  it("answers the same tasks from the command line (beamhub task)", { timeout: 60_000 }, async () => {
    await serveTasks("cli");
    const socket = join(dir, "cli.sock");
    const as = (app: string) => ({ env: { BEAMHUB_APP: app, BEAMHUB_APP_KEY: "App1Secret" } });
    const posted = await beamhub(
      ["task", "post", JSON.stringify({ to: [APP2], body: "6 x 7?" }), "--socket", socket],
      as(APP1),
    );
    expect(posted.stderr).toBe("");
    expect(posted.code).toBe(0);
    const id = posted.stdout.trim();
    const todo = await beamhub(["task", "ls", "--socket", socket], as(APP2));
    expect(todo.stdout).toMatch(
      new RegExp(`^ID\\s+FROM\\s+TO\\s+TTL\\s+BODY\n${id}\\s+${APP1}\\s+${APP2}\\s+\\d+s\\s+6 x 7\\?`),
    );
    const put = await beamhub(
      ["task", "put", id, '{"status":"succeeded","body":"42"}', "--socket", socket],
      as(APP2),
    );
    expect([put.code, put.stdout.trim()]).toEqual([0, "created"]);
    const results = await beamhub(
      ["task", "results", id, "--wait-count", "1", "--json", "--socket", socket],
      as(APP1),
    );
    expect(JSON.parse(results.stdout)).toMatchObject([{ from: APP2, status: "succeeded", body: "42" }]);
    const forbidden = await beamhub(["task", "results", id, "--socket", socket], as(APP2));
    expect([forbidden.code, forbidden.stderr]).toEqual([1, expect.stringContaining("EFORBIDDEN (403)")]);
    const noApp = await beamhub(["task", "ls", "--socket", socket]);
    expect(noApp.code).toBe(2);
  });

  it(
    "serves the same API on the https listener, over HTTP/2 and HTTP/1.1 (curl)",
    { timeout: 60_000 },
    async () => {
      const certDir = join(dir, "cert");
      const cli = await startCli(
        [
          "serve",
          "--socket",
          join(dir, "https.sock"),
          "--listen-https",
          "127.0.0.1:0",
          "--cert-dir",
          certDir,
          "--id",
          "proxy1.broker",
          "--tasks-file",
          "off",
        ],
        /serving on (https:\/\/127\.0\.0\.1:\d+)/,
        { APP_app1_KEY: "App1Secret", APP_app2_KEY: "App1Secret" },
      );
      running.push(cli);
      const base = cli.match[1]!;
      const ca = ["--cacert", join(certDir, "cert.pem")];
      const task = aTask();
      const posted = await curl([
        ...ca,
        "--http2",
        "-H",
        `Authorization: ApiKey ${APP1} App1Secret`,
        "--json",
        JSON.stringify(task),
        `${base}/v1/tasks`,
      ]);
      expect([posted.status, posted.version]).toEqual([201, "2"]);
      const todo = await curl([
        ...ca,
        "--http1.1",
        "-H",
        `Authorization: ApiKey ${APP2} App1Secret`,
        `${base}/v1/tasks?filter=todo`,
      ]);
      expect([todo.status, todo.version]).toEqual([200, "1.1"]);
      expect((JSON.parse(todo.body) as { id: string }[]).map((t) => t.id)).toEqual([task.id]);
      const unauthorized = await curl([...ca, "--http2", `${base}/v1/tasks?filter=todo`]);
      expect(unauthorized.status).toBe(401);
      // beamhub's own routes and other paths are untouched.
      expect((await curl([...ca, "--http2", `${base}/beamhub/v1/services`])).status).toBe(200);
      expect((await curl([...ca, "--http2", `${base}/elsewhere`])).status).toBe(404);
    },
  );

  it("refuses a bad id and a plain-HTTP listener beyond loopback (exit 2)", async () => {
    const badId = await beamhub([
      "serve",
      "--socket",
      join(dir, "bad.sock"),
      "--listen-https",
      "off",
      "--id",
      "proxy 1.broker",
    ]);
    expect(badId.code).toBe(2);
    expect(badId.stderr).toContain("--id");
    const remote = await beamhub([
      "serve",
      "--socket",
      join(dir, "bad.sock"),
      "--listen-https",
      "off",
      "--listen-http",
      "0.0.0.0:8081",
    ]);
    expect(remote.code).toBe(2);
    expect(remote.stderr).toContain("loopback");
  });

  it("refuses a second hub on the same task log", { timeout: 60_000 }, async () => {
    await serveTasks("shared");
    const second = await beamhub(
      [
        "serve",
        "--socket",
        join(dir, "second.sock"),
        "--listen-https",
        "off",
        "--tasks-file",
        join(dir, "shared.kvlog"),
      ],
      { env: { APP_app1_KEY: "k" } },
    );
    expect(second.code).not.toBe(0);
    expect(second.stderr).toContain("is in use by process");
  });
});
