// A federation as an operator runs it: three `beamhub serve` processes on loopback — a broker and
// two site hubs, one of them reaching the broker through a forward proxy (tinyproxy) — and a
// service at one site called from the other by `name@site`, with `beamhub call`; and Samply's
// task walkthrough from an app at site 1 to an app at site 2, whose hub reaches the broker
// through the proxy.
import { randomUUID, X509Certificate } from "node:crypto";
import { connect as connectTls } from "node:tls";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateAuthority } from "../../federation/pki/authority.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { beamhub, startCli, type RunningCli } from "../cli/helpers.js";
import { within } from "../compliance/suite.js";
import { RestClient } from "../tasks/helpers.js";
import { installTinyproxy, startTinyproxy, type Tinyproxy } from "../helpers/tinyproxy.js";

let dir: string;
const running: RunningCli[] = [];
let tinyproxy: Tinyproxy | undefined;

/** A federation directory for `id`: hub.pem, hub.key and the authority's root.pem. */
async function credentials(ca: CertificateAuthority, id: string): Promise<string> {
  const place = join(dir, id);
  await mkdir(place);
  const issued = await ca.issue(id);
  await writeFile(join(place, "hub.pem"), issued.certificate);
  await writeFile(join(place, "hub.key"), issued.key, { mode: 0o600 });
  await copyFile(join(dir, "ca", "root.pem"), join(place, "root.pem"));
  return place;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-serve-federation-"));
  const installed = await installTinyproxy();
  if (installed.path !== undefined) tinyproxy = await startTinyproxy(installed.path);
  else console.warn(`site 2 reaches the broker directly: tinyproxy is not available (${installed.reason})`);
}, 320_000);

afterAll(async () => {
  await Promise.allSettled(running.reverse().map((process) => process.stop()));
  await tinyproxy?.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The SHA-256 fingerprint of the certificate a TLS server presents to a new connection. */
function peerFingerprint(base: string, root: string): Promise<string> {
  const url = new URL(base);
  return within(
    new Promise((resolve, reject) => {
      const socket = connectTls(
        { host: url.hostname, port: Number(url.port), ca: root, servername: "broker" },
        () => {
          resolve(socket.getPeerCertificate().fingerprint256);
          socket.destroy();
        },
      );
      socket.once("error", reject);
    }),
    10_000,
    "a TLS handshake with the broker",
  );
}

function apiKey(app: string): Record<string, string> {
  return { authorization: `ApiKey ${app} App1Secret` };
}

/** A GET to the broker's https port (its certificate names the hub id "broker"). */
function get(
  base: string,
  path: string,
  root: string,
  password?: string,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(new URL(path, base), {
      ca: root,
      servername: "broker",
      headers:
        password === undefined
          ? {}
          : { authorization: `Basic ${Buffer.from(`monitor:${password}`).toString("base64")}` },
    });
    request.once("response", (response) => {
      let body = "";
      response.on("data", (chunk: Buffer) => (body += chunk.toString()));
      response.once("end", () => resolve({ status: response.statusCode!, body }));
    });
    request.once("error", reject);
    request.end();
  });
}

describe("beamhub serve --federation", () => {
  it("runs a broker and two sites; a call goes site 1 → broker → site 2 by name@site", async () => {
    const ca = await CertificateAuthority.init(join(dir, "ca"));
    const brokerDir = await credentials(ca, "broker");
    const broker = await startCli(
      [
        "serve",
        "--id",
        "broker",
        "--federation",
        brokerDir,
        "--listen-https",
        "127.0.0.1:0",
        "--socket",
        join(dir, "broker.sock"),
        "--tasks-file",
        join(dir, "broker.kvlog"),
      ],
      /press Ctrl-C/,
      { MONITORING_API_KEY: "watch-it" },
    );
    running.push(broker);
    expect(broker.stderr()).toMatch(/federation: broker broker/);
    const brokerUrl = broker.stderr().match(/serving on (https:\/\/127\.0\.0\.1:\d+)/)![1]!;

    const rest = new Map<string, string>();
    const site = async (id: string, extra: string[]): Promise<string> => {
      const socket = join(dir, `${id}.sock`);
      const started = await startCli(
        [
          "serve",
          "--id",
          id,
          "--federation",
          await credentials(ca, id),
          "--broker",
          brokerUrl,
          "--listen-https",
          "off",
          "--socket",
          socket,
          "--listen-http",
          "127.0.0.1:0",
          ...extra,
        ],
        /press Ctrl-C/,
        { [`APP_${id.split(".")[0] === "proxy1" ? "app1" : "app2"}_KEY`]: "App1Secret" },
      );
      running.push(started);
      rest.set(id, started.stderr().match(/REST on (http:\/\/127\.0\.0\.1:\d+)/)![1]!);
      expect(started.stderr()).toMatch(
        new RegExp(`federation: site ${id.replace(".", "\\.")} of the broker`),
      );
      return socket;
    };
    const site1 = await site("proxy1.broker", ["--proxy", "off"]);
    const site2 = await site("proxy2.broker", tinyproxy === undefined ? [] : ["--proxy", tinyproxy.url]);

    const service = await connectUnix(site2, { reconnect: false });
    try {
      await service.register(
        "greet",
        (name: string, context) => `hello ${name}, from proxy2 to ${context.caller.identity?.id}`,
      );
      const caller = await connectUnix(site1, { reconnect: false });
      try {
        const reply = await within(
          caller.call("greet@proxy2.broker", "Ada", { waitForService: 30_000 }),
          35_000,
          "the call across the federation",
        );
        expect(reply).toBe("hello Ada, from proxy2 to proxy1.broker");
      } finally {
        await caller.close();
      }
      const cli = await beamhub(["call", "greet@proxy2.broker", '"Grace"', "--socket", site1]);
      expect(cli.stderr).toBe("");
      expect(cli.stdout.trim()).toBe('"hello Grace, from proxy2 to proxy1.broker"');
      if (tinyproxy !== undefined)
        expect(tinyproxy.log()).toContain(`CONNECT ${brokerUrl.slice("https://".length)}`);
    } finally {
      await service.close();
    }

    // Samply's walkthrough across the sites: app1 at proxy1 asks app2 at proxy2 (behind the proxy).
    const proxy1 = new RestClient(rest.get("proxy1.broker")!);
    const proxy2 = new RestClient(rest.get("proxy2.broker")!);
    const id = randomUUID();
    const task = {
      body: "What is the answer to the ultimate question of life, the universe, and everything?",
      failure_strategy: { retry: { backoff_millisecs: 1000, max_tries: 5 } },
      from: "app1.proxy1.broker",
      id,
      metadata: "The broker can read and use this field e.g., to apply filters on behalf of an app",
      to: ["app2.proxy2.broker"],
      ttl: "60s",
    };
    expect((await proxy1.request("POST", "/v1/tasks", apiKey("app1.proxy1.broker"), task)).status).toBe(201);
    const todo = await proxy2.request(
      "GET",
      "/v1/tasks?filter=todo&wait_count=1&wait_time=10s",
      apiKey("app2.proxy2.broker"),
    );
    expect(todo.json()).toEqual([expect.objectContaining({ id, body: task.body })]);
    const answer = {
      from: "app2.proxy2.broker",
      metadata: ["Arbitrary", "types", "are", "possible"],
      status: "succeeded",
      body: "The answer is 42",
      task: id,
      to: ["app1.proxy1.broker"],
    };
    expect(
      (
        await proxy2.request(
          "PUT",
          `/v1/tasks/${id}/results/app2.proxy2.broker`,
          apiKey("app2.proxy2.broker"),
          answer,
        )
      ).status,
    ).toBe(201);
    const results = await proxy1.request(
      "GET",
      `/v1/tasks/${id}/results?wait_count=1&wait_time=10s`,
      apiKey("app1.proxy1.broker"),
    );
    expect(results.json()).toEqual([answer]);
    // The broker's log has the task, sealed.
    const log = await readFile(join(dir, "broker.kvlog"), "utf8");
    expect(log).toContain(id);
    expect(log).not.toContain("ultimate question");
    expect(log).not.toContain("The answer is 42");

    // A renewed broker certificate, taken on SIGHUP: new connections get it, the sites'
    // sessions stay up (site 1 still reaches the broker's task store through its session).
    const before = await peerFingerprint(brokerUrl, ca.rootPem);
    const renewed = await ca.issue("broker");
    await writeFile(join(brokerDir, "hub.pem"), renewed.certificate);
    await writeFile(join(brokerDir, "hub.key"), renewed.key, { mode: 0o600 });
    broker.child.kill("SIGHUP");
    await within(
      (async () => {
        while (!/SIGHUP: new connections get the certificate/.test(broker.stderr()))
          await new Promise((resolve) => setTimeout(resolve, 50));
      })(),
      10_000,
      "the broker to take the renewed certificate",
    );
    const after = await peerFingerprint(brokerUrl, ca.rootPem);
    expect(after).not.toBe(before);
    expect(after).toBe(new X509Certificate(renewed.certificate).fingerprint256);
    const again = await proxy1.request("GET", `/v1/tasks/${id}`, apiKey("app1.proxy1.broker"));
    expect(again.status).toBe(200);
    expect(again.json()).toMatchObject({ body: task.body });

    // The broker's health of its sites, as Samply's broker answers it.
    const health = (path: string, password?: string) => get(brokerUrl, path, ca.rootPem, password);
    expect(await health("/v1/health/proxies")).toEqual({
      status: 200,
      body: '["proxy1.broker","proxy2.broker"]',
    });
    expect((await health("/v1/health/proxies/proxy1.broker", "watch-it")).status).toBe(200);
    expect((await health("/v1/health/proxies/proxy1.broker", "wrong")).status).toBe(401);
    expect((await health("/v1/health/proxies/proxy7.broker", "watch-it")).status).toBe(404);
    await running.at(-1)!.stop(); // site 2 goes away
    const gone = await within(
      (async () => {
        for (;;) {
          const answer = await health("/v1/health/proxies/proxy2.broker", "watch-it");
          if (answer.status !== 200) return answer;
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      })(),
      10_000,
      "the broker to notice site 2 went away",
    );
    expect(gone.status).toBe(503);
    expect(JSON.parse(gone.body).last_disconnect.secs_since_epoch).toBeGreaterThan(1_700_000_000);
  }, 120_000);

  it("refuses a federation directory whose certificate names another hub, before listening", async () => {
    const ca = await CertificateAuthority.open(join(dir, "ca"));
    const place = await credentials(ca, "proxy9.broker");
    const refused = await beamhub([
      "serve",
      "--id",
      "proxy8.broker",
      "--federation",
      place,
      "--socket",
      join(dir, "x.sock"),
    ]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/names "proxy9.broker", expected "proxy8.broker"/);
    const stray = await beamhub([
      "serve",
      "--broker",
      "https://127.0.0.1:1",
      "--socket",
      join(dir, "y.sock"),
    ]);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toMatch(/--broker needs --federation DIR/);
  }, 60_000);
});
