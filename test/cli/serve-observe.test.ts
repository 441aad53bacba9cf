// `beamhub serve` as an operator sees it: JSON logs of sessions (identity, transport, reason)
// and slow calls, never a token; /metrics, /healthz and /readyz on the plain --metrics listener
// and on the https listener, scraped for real while real clients call through the hub.
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttps, connectUnix } from "../../index.js";
import { observeServeOptions } from "../../cli/serve-observe-options.js";
import { parsePrometheusText } from "../observability/prometheus-text.js";
import { beamhub, startCli, within, type RunningCli } from "./helpers.js";

let dir: string;
let hub: RunningCli;
let socket: string;
let httpsUrl: string;
let metricsUrl: string;
let ca: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-observe-"));
  socket = join(dir, "hub.sock");
  const tokens = join(dir, "tokens.txt");
  await writeFile(tokens, "secret-token-77aa ops\n", { mode: 0o600 });
  hub = await startCli(
    [
      "serve",
      "--socket",
      socket,
      "--listen-https",
      "127.0.0.1:0",
      "--cert-dir",
      join(dir, "cert"),
      "--tokens",
      tokens,
      "--metrics",
      "127.0.0.1:0",
      "--log-format",
      "json",
      "--slow-call",
      "30",
    ],
    /press Ctrl-C/,
  );
  const lines = logLines();
  httpsUrl = lines
    .find((l) => /serving on https/.test(String(l.msg)))!
    .msg.match(/(https:\/\/127\.0\.0\.1:\d+)/)![1]!;
  metricsUrl = lines
    .find((l) => String(l.msg).startsWith("metrics:"))!
    .msg.match(/(http:\/\/127\.0\.0\.1:\d+)/)![1]!;
  ca = await readFile(join(dir, "cert", "cert.pem"), "utf8");
}, 30_000);

afterAll(async () => {
  await hub?.stop();
  await rm(dir, { recursive: true, force: true });
});

interface LogLine {
  level: string;
  msg: string;
  time: string;
  [field: string]: unknown;
}

/** Every stderr line so far, each of which must be a JSON log line. */
function logLines(): LogLine[] {
  return hub
    .stderr()
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as LogLine);
}

function get(url: string, token?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = (url.startsWith("https:") ? httpsRequest : httpRequest)(
      url,
      { ca, timeout: 10_000, headers: token === undefined ? {} : { authorization: `Bearer ${token}` } },
      (response) => {
        let body = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (body += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body }));
      },
    );
    request.on("timeout", () => request.destroy(new Error(`GET ${url} timed out`)));
    request.on("error", reject);
    request.end();
  });
}

async function until(condition: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!condition()) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    10_000,
    what,
  );
}

describe("beamhub serve, observed", () => {
  it("logs JSON lines: status, session open/close with identity and transport, slow calls; never the token", async () => {
    const worker = await connectUnix(socket);
    await worker.register("nap", () => new Promise((resolve) => setTimeout(() => resolve("ok"), 60)));
    const caller = await connectHttps(httpsUrl, { ca, token: "secret-token-77aa" });
    expect(await caller.call("nap")).toBe("ok");
    await caller.close();
    await worker.close();
    await until(
      () => logLines().filter((l) => l.event === "session.close").length >= 2,
      "two session.close lines",
    );

    const lines = logLines();
    expect(lines.every((l) => typeof l.time === "string" && typeof l.level === "string")).toBe(true);
    const opened = lines.filter((l) => l.event === "session.open");
    expect(opened).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ level: "info", transport: "unix", via: "unix", uid: process.getuid!() }),
        expect.objectContaining({ transport: "http2", identity: "ops", via: "token", address: "127.0.0.1" }),
      ]),
    );
    const closed = lines.filter((l) => l.event === "session.close");
    expect(closed.find((l) => l.identity === "ops")).toMatchObject({
      reason: expect.stringContaining("closed"),
      bytesIn: expect.any(Number),
    });
    const slow = lines.find((l) => l.event === "call.slow");
    expect(slow).toMatchObject({ level: "warn", service: "nap", identity: "ops", outcome: "ok" });
    expect(slow!.ms as number).toBeGreaterThanOrEqual(30);
    expect(hub.stderr()).not.toContain("secret-token-77aa");
  });

  it("serves metrics and health on the plain listener and on https, moving with traffic", async () => {
    expect(await get(`${metricsUrl}/healthz`)).toMatchObject({ status: 200, body: "ok\n" });
    const ready = await get(`${metricsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(ready.body).toContain("ok unix listener");
    expect(ready.body).toContain("ok https listener");

    const scrape = async (): Promise<ReturnType<typeof parsePrometheusText>> =>
      parsePrometheusText((await get(`${metricsUrl}/metrics`)).body);
    const before = await scrape();
    const client = await connectUnix(socket);
    await client.register("add", ([a, b]: [number, number]) => a + b);
    for (let i = 0; i < 7; i++) expect(await client.call("add", [i, 1])).toBe(i + 1);
    const after = await scrape();
    await client.close();
    expect(after.value("beamhub_calls_total", { service: "add", outcome: "ok" })).toBe(7);
    // Timed: a sample of ~1000 calls a second per instance (call-stats.ts); the first always.
    expect(after.value("beamhub_call_duration_seconds_count", { service: "add" })).toBeGreaterThanOrEqual(1);
    expect(after.value("beamhub_sessions", { transport: "unix" })).toBe(1);
    expect(after.value("beamhub_bytes_total", { direction: "in" })!).toBeGreaterThan(
      before.value("beamhub_bytes_total", { direction: "in" })!,
    );
    expect(after.value("beamhub_tasks")).toBe(0);
    expect(after.types.get("beamhub_nodejs_eventloop_lag_seconds")).toBe("gauge");

    // On https: health for anyone; /metrics for peers that may call hub.stats (no rules: all).
    expect((await get(`${httpsUrl}/healthz`)).status).toBe(200);
    expect((await get(`${httpsUrl}/readyz`)).status).toBe(200);
    const overHttps = await get(`${httpsUrl}/metrics`, "secret-token-77aa");
    expect(overHttps.status).toBe(200);
    expect(
      parsePrometheusText(overHttps.body).value("beamhub_calls_total", { service: "add", outcome: "ok" }),
    ).toBe(7);
    expect((await get(`${httpsUrl}/metrics`, "wrong-token-9e107d9d")).status).toBe(401);
    // The refusal is in serve's log: who, what, why, never the token.
    await until(() => logLines().some((l) => l.event === "https.refused"), "an https.refused line");
    expect(logLines().find((l) => l.event === "https.refused")).toMatchObject({
      level: "warn",
      status: 401,
      code: "EUNAUTHENTICATED",
      method: "GET",
      path: "/metrics",
      address: "127.0.0.1",
      identity: "anonymous",
    });
    expect(hub.stderr()).not.toContain("wrong-token-9e107d9d");
  });

  it("refuses a metrics listener off loopback, naming the flag (a real run)", async () => {
    const wide = await beamhub(["serve", "--socket", join(dir, "x.sock"), "--metrics", "0.0.0.0:9464"]);
    expect(wide.code).toBe(2);
    expect(wide.stderr).toContain("--metrics 0.0.0.0: the plain metrics listener listens on loopback only");
  }, 40_000);

  it("refuses bad log and slow-call settings, naming the setting", () => {
    const resolve = (settings: Record<string, string>) => () =>
      observeServeOptions((flag) =>
        settings[flag] === undefined ? undefined : { value: settings[flag], source: `--${flag}` },
      );
    expect(resolve({ "log-level": "loud" })).toThrow(/--log-level takes one of trace, debug, info/);
    expect(resolve({ "log-format": "xml" })).toThrow(/--log-format takes json or pretty/);
    expect(resolve({ "slow-call": "soon" })).toThrow(/--slow-call takes a positive number of milliseconds/);
    expect(resolve({ "slow-call": "0" })).toThrow(/--slow-call/);
    expect(resolve({ metrics: "10.0.0.1:9464" })).toThrow(/loopback only/);
    expect(resolve({})()).toEqual({
      metrics: undefined,
      logLevel: "info",
      logFormat: "pretty",
      slowCallMs: undefined,
    });
    expect(resolve({ metrics: "127.0.0.1:9464", "slow-call": "250", "log-level": "warn" })()).toMatchObject({
      metrics: { host: "127.0.0.1", port: 9464 },
      slowCallMs: 250,
      logLevel: "warn",
    });
  });
});
