// `beamhub serve`'s faces on one https port, as an operator sees them: pub/sub over HTTP
// (--pubsub-http and its limits, in-process; ?access_token= for EventSource on a hub with
// tokens, for real) and the refusals of every face in one JSON log event, https.refused — the
// pub/sub event stream's, the Mles face's (face "mles") and the task sockets' (face
// "task-sockets") — never with a token, a key, an Mles auth or a query in the log.
import { request as httpsRequest } from "node:https";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mlesAuth } from "../../mles/auth.js";
import { resolveServeOptions, type ServeFlags } from "../../cli/serve-options.js";
import { MlesClient } from "../mles/mles-client.js";
import { openRaw } from "../tasks/raw-http.js";
import { until } from "../helpers/until.js";
import { startServe, testConfig, type RunningCli } from "./helpers.js";

const TOKEN = "viewer-token-a87ff679";
const WRONG_TOKEN = "wrong-token-e4da3b7f";
const MLES_KEY = "mles-key-1679091c";
const APP_KEY = "AppKey8f14e45f";
const WRONG_APP_KEY = "NotTheAppKeyc9f0f895";

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-refusals-"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("--pubsub-http", () => {
  const resolve = (flags: ServeFlags) => resolveServeOptions(flags, testConfig(dir), {}).pubsub.http;

  it("is on by default; off turns pub/sub over HTTP off; its limits are whole numbers >= 1", () => {
    expect(resolve({})).toEqual({});
    expect(resolve({ "pubsub-http": "off" })).toBe(false);
    expect(resolve({ "pubsub-http": "on", "pubsub-http-streams": "4", "pubsub-http-ring": "16" })).toEqual({
      maxStreams: 4,
      ring: 16,
    });
    expect(() => resolve({ "pubsub-http": "maybe" })).toThrow(/--pubsub-http must be true or false/);
    expect(() => resolve({ "pubsub-http-streams": "0" })).toThrow(/--pubsub-http-streams must be at least 1/);
    expect(() => resolve({ "pubsub-http-ring": "many" })).toThrow(
      /--pubsub-http-ring must be a whole number/,
    );
    expect(() => resolve({ "pubsub-http": "off", "pubsub-http-ring": "16" })).toThrow(
      /--pubsub-http-ring sets a limit of pub\/sub over HTTP, which --pubsub-http turns off/,
    );
    expect(() =>
      resolveServeOptions({ "listen-https": "off", "pubsub-http": "off" }, testConfig(dir), {}),
    ).toThrow(/--pubsub-http configures the https listener, which is off/);
  });
});

describe("beamhub serve's refusals, one log event for every face", () => {
  let hub: RunningCli & { httpsUrl: string };
  let httpsUrl: string;
  let ca: string;

  beforeAll(async () => {
    const tokens = join(dir, "tokens.txt");
    await writeFile(tokens, `${TOKEN} viewer\n`, { mode: 0o600 });
    hub = await startServe(
      join(dir, "hub.sock"),
      join(dir, "cert"),
      [
        ...["--tokens", tokens, "--require-auth", "--mles", "--id", "proxy1.broker"],
        ...["--pubsub-http-streams", "2", "--pubsub-http-ring", "8", "--log-format", "json"],
        ...["--metrics", "127.0.0.1:0"],
      ],
      { MLES_KEY, APP_app1_KEY: APP_KEY },
    );
    httpsUrl = hub.httpsUrl;
    ca = await readFile(join(dir, "cert", "cert.pem"), "utf8");
  }, 30_000);

  afterAll(async () => {
    await hub?.stop();
  });

  /** The JSON log lines so far. */
  const logLines = (): { msg: string; event?: string; [field: string]: unknown }[] =>
    hub
      .stderr()
      .split("\n")
      .filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { msg: string });

  /** Waits (bounded) for a refusal log line that `matches`. */
  async function refusalLogged(
    matches: (line: Record<string, unknown>) => boolean,
    what: string,
  ): Promise<Record<string, unknown>> {
    let found: Record<string, unknown> | undefined;
    const match = (): boolean =>
      (found = logLines().find((line) => line.event === "https.refused" && matches(line))) !== undefined;
    await until(match, 10_000, what);
    return found!;
  }

  /** GET over HTTPS: the status, and the body of a refusal (an event stream is left at once). */
  function get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(`${httpsUrl}${path}`, { ca }, (response) => {
        if (response.statusCode === 200) {
          response.destroy();
          return resolve({ status: 200, body: "" });
        }
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body }));
      });
      request.on("error", reject);
      request.setTimeout(10_000, () => request.destroy(new Error(`no answer to GET ${path.split("?")[0]}`)));
      request.end();
    });
  }

  /** Opens an event stream as the token's identity and keeps it; resolves to what closes it. */
  function hold(path: string): Promise<() => void> {
    return new Promise((resolve, reject) => {
      const request = httpsRequest(`${httpsUrl}${path}?access_token=${TOKEN}`, { ca }, (response) => {
        if (response.statusCode !== 200) return reject(new Error(`GET ${path}: ${response.statusCode}`));
        resolve(() => response.destroy());
      });
      request.on("error", reject);
      request.setTimeout(10_000, () => request.destroy(new Error(`no answer to GET ${path}`)));
      request.end();
    });
  }

  /** The Prometheus text of the plain metrics listener (--metrics). */
  async function metricsText(): Promise<string> {
    const url = logLines()
      .map((line) => /^metrics: (http:\/\/127\.0\.0\.1:\d+)/.exec(line.msg)?.[1])
      .find((found) => found !== undefined)!;
    const response = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(10_000) });
    return response.text();
  }

  it("says how pub/sub over HTTP is served, with its limits", () => {
    const line = logLines().find((l) => l.msg.startsWith("pub/sub over HTTP:"))!;
    expect(line.msg).toBe(
      `pub/sub over HTTP: GET ${httpsUrl}/beamhub/v1/pubsub/CHANNEL follows (server-sent events; a browser's ` +
        "EventSource may send its token as ?access_token=), POST publishes; at most 2 streams, 8 messages held for a slow one",
    );
  });

  it("follows a channel with ?access_token=; a wrong one is refused and logged without it", async () => {
    const followed = await get(`/beamhub/v1/pubsub/news?access_token=${TOKEN}`);
    expect(followed.status).toBe(200); // the stream opened as the token's identity
    const refused = await get(`/beamhub/v1/pubsub/news?access_token=${WRONG_TOKEN}`);
    expect(refused.status).toBe(401);
    const line = await refusalLogged(
      (l) => l.path === "/beamhub/v1/pubsub/news",
      "the SSE refusal's log line",
    );
    expect(line).toMatchObject({
      level: "warn",
      status: 401,
      code: "EUNAUTHENTICATED",
      transport: "http",
      face: "pubsub",
    });
  }, 30_000);

  it("logs an Mles client whose auth fails, with the face, never the key or the auth", async () => {
    const guessed = mlesAuth("mallory", "chat", "guessed");
    const client = await MlesClient.join(
      httpsUrl,
      { uid: "mallory", channel: "chat", auth: guessed },
      { ca, path: "/chat?auth=in-the-query" },
    );
    expect((await client.closedWithin()).reason).toMatch(/^EMLES_AUTH/);
    const line = await refusalLogged((l) => l.face === "mles", "the Mles refusal's log line");
    expect(line).toMatchObject({
      status: 401,
      code: "EMLES_AUTH",
      method: "GET",
      path: "/chat",
      transport: "websocket",
      identity: "anonymous",
      msg: "https: mles refused GET /chat (401)",
    });
    expect(hub.stderr()).not.toContain(guessed);
    expect(hub.stderr()).not.toContain("in-the-query");
  }, 30_000);

  it("logs a task socket upgrade with a wrong key, with the face, never the key", async () => {
    const { answer } = openRaw(
      Number(new URL(httpsUrl).port),
      "POST",
      "/v1/sockets/app2.proxy1.broker",
      { connection: "upgrade", upgrade: "tcp", authorization: `ApiKey app1.proxy1.broker ${WRONG_APP_KEY}` },
      10_000,
      { ca },
    );
    expect((await answer).status).toBe(401);
    const line = await refusalLogged((l) => l.face === "task-sockets", "the task socket refusal's log line");
    expect(line).toMatchObject({
      status: 401,
      code: "EUNAUTHORIZED",
      method: "POST",
      path: "/v1/sockets/app2.proxy1.broker",
      transport: "upgrade",
    });
  }, 30_000);

  it("logs an event stream over the limit (503) and an Mles uid already in its channel (409), and counts them", async () => {
    // Two streams are the limit (--pubsub-http-streams 2): a third is refused.
    const held = await Promise.all([hold("/beamhub/v1/pubsub/full"), hold("/beamhub/v1/pubsub/full")]);
    try {
      const over = await get(`/beamhub/v1/pubsub/full?access_token=${TOKEN}`);
      expect(over.status).toBe(503);
      const line = await refusalLogged((l) => l.status === 503, "the over-limit refusal's log line");
      expect(line).toMatchObject({
        level: "warn",
        code: "ELIMIT",
        face: "pubsub",
        path: "/beamhub/v1/pubsub/full",
        identity: "viewer",
        reason: "the hub serves at most 2 pub/sub event streams at once",
      });
    } finally {
      for (const close of held) close();
    }

    const header = { uid: "alice", channel: "dup", auth: mlesAuth("alice", "dup", MLES_KEY) };
    const first = await MlesClient.join(httpsUrl, header, { ca });
    try {
      const second = await MlesClient.join(httpsUrl, header, { ca });
      expect((await second.closedWithin()).reason).toMatch(/^EMLES_DUPLICATE/);
      const line = await refusalLogged((l) => l.code === "EMLES_DUPLICATE", "the duplicate uid's log line");
      expect(line).toMatchObject({
        status: 409,
        face: "mles",
        identity: "mles:alice",
        reason: 'uid "alice" is already a member of dup',
        msg: "https: mles refused GET / (409)",
      });
    } finally {
      await first.close();
    }

    // Counted in the metrics, by status, face and code.
    const metrics = await metricsText();
    expect(metrics).toMatch(/beamhub_https_refused_total\{status="503",face="pubsub",code="ELIMIT"\} 1\n/);
    expect(metrics).toMatch(
      /beamhub_https_refused_total\{status="409",face="mles",code="EMLES_DUPLICATE"\} 1\n/,
    );
    expect(metrics).toMatch(/beamhub_https_refused_total\{status="401",face="mles",code="EMLES_AUTH"\} 1\n/);
  }, 30_000);

  it("never logs a token, a key or an auth", () => {
    const log = hub.stderr();
    for (const secret of [TOKEN, WRONG_TOKEN, MLES_KEY, APP_KEY, WRONG_APP_KEY])
      expect(log).not.toContain(secret);
  });
});
