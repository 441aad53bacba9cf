// Behind a standard proxy: nginx (Debian package, installed by scripts/install-nginx.sh when
// missing) terminates TLS with its own certificate, speaks HTTP/2 to clients (`listen ... ssl
// http2`) and HTTP/1.1 to the hub's listenHttps — configured with exactly the block that
// transports/http2/README.md documents (test/helpers/nginx.ts replaces only addresses and
// certificate paths). An "auto" client's HTTP/2 session request reaches the hub as HTTP/1.1 and
// is refused at once (505), so it falls back to the WebSocket, through which every feature
// works; plain requests reuse the proxy's connections to the hub. A variant that buffers request
// bodies (nginx's default) shows the first-byte deadline at work.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as http2Connect } from "node:http2";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ByteStream,
  type CertificatePair,
  Channel,
  connectHttps,
  createDevCertificate,
} from "../../index.js";
import {
  documentedNginxConfig,
  installNginx,
  nginxConf,
  placeConfig,
  startNginx,
  type RunningNginx,
} from "../helpers/nginx.js";
import { freePort } from "../helpers/ports.js";
import { startHub, within, type HttpsFixture } from "./helpers.js";

let fixture: HttpsFixture | undefined;
const proxies: RunningNginx[] = [];
let dir: string | undefined;
let certificate: CertificatePair;
/** The documented configuration. */
let url: string;
/** The documented configuration with request bodies buffered (nginx's default). */
let bufferingUrl: string;
let skipReason: string | undefined;
/** TLS connections the hub has accepted: the proxy's upstream connections. */
let upstreamConnections = 0;

/** Starts nginx in its own directory under `dir` with `http`, on a free port: its URL. */
async function proxy(binary: string, name: string, http: (port: number) => string): Promise<string> {
  const port = await freePort();
  const own = await mkdtemp(join(dir!, `${name}-`));
  proxies.push(await startNginx(binary, own, nginxConf(own, http(port)), port));
  return `https://localhost:${port}`;
}

beforeAll(async () => {
  const installed = await installNginx();
  if (installed.path === undefined) {
    skipReason = `nginx is not installed and cannot be installed here: ${installed.reason}`;
    console.log(`skipping the nginx test: ${skipReason}`);
    return;
  }
  fixture = await startHub();
  fixture.listener.server.on("secureConnection", () => upstreamConnections++);
  const hub = fixture.hub;
  await hub.register("echo", (data: unknown) => data);
  await hub.register("events", async (data: { channel: Channel; count: number }) => {
    for (let i = 0; i < data.count; i++) await data.channel.send({ seq: i });
    data.channel.close();
    return "sent";
  });
  await hub.register("stream.echo", (data: { stream: ByteStream }) => {
    data.stream.readable.pipeTo(data.stream.writable).catch(() => undefined);
    return "echoing";
  });

  dir = await mkdtemp(join(tmpdir(), "beamhub-nginx-"));
  certificate = await createDevCertificate({ commonName: "beamhub test proxy" });
  const certFile = join(dir, "proxy-cert.pem");
  const keyFile = join(dir, "proxy-key.pem");
  await writeFile(certFile, certificate.cert);
  await writeFile(keyFile, certificate.key, { mode: 0o600 });
  const upstreamPort = fixture.listener.port;
  const documented = await documentedNginxConfig();
  const site = (port: number) => ({ port, upstreamPort, certFile, keyFile });
  url = await proxy(installed.path, "documented", (port) => placeConfig(documented, site(port)));
  const streaming = "proxy_request_buffering off;";
  expect(documented.split(streaming)).toHaveLength(2);
  bufferingUrl = await proxy(installed.path, "buffering", (port) =>
    placeConfig(documented.replace(streaming, "proxy_request_buffering on;"), site(port)),
  );
}, 360_000);

afterAll(async () => {
  await Promise.all(proxies.map((nginx) => nginx.stop()));
  await fixture?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** POST /beamhub/v1/call/echo through the proxy over HTTP/1.1 (keep-alive): status and body. */
function postHttp1(agent: Agent, data: unknown): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(data);
  const target = new URL("/beamhub/v1/call/echo", url);
  return within(
    new Promise((resolve, reject) => {
      const req = request(
        target,
        {
          method: "POST",
          agent,
          headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (text += chunk));
          res.once("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.once("error", reject);
      req.end(body);
    }),
    5000,
    "a plain request through nginx",
  );
}

describe("a hub behind nginx (the documented configuration, listen ... ssl http2)", () => {
  it("an auto client is refused HTTP/2 at once, falls back to the WebSocket and uses every feature", async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const remote = await connectHttps(url, { ca: certificate.cert });
    try {
      expect(remote.transport).toBe("websocket");
      // The hub's own answer to HTTP/1.1 on the session path came back through nginx: no waiting.
      expect(remote.fallbackCause?.code).toBe("EHTTP_VERSION");

      // A call.
      expect(await remote.call("echo", { through: "nginx" })).toEqual({ through: "nginx" });

      // Channel events.
      const [mine, theirs] = Channel.pair();
      const done = remote.call("events", { channel: theirs, count: 20 });
      const seen: unknown[] = [];
      for await (const message of mine) seen.push(message.data);
      expect(await done).toBe("sent");
      expect(seen).toEqual(Array.from({ length: 20 }, (_, seq) => ({ seq })));

      // A byte stream round trip (256 KiB, half-closed by us).
      const [near, far] = ByteStream.pair();
      expect(await remote.call("stream.echo", { stream: far })).toBe("echoing");
      const payload = new Uint8Array(256 * 1024).map((_, i) => (i * 7) & 0xff);
      const writing = (async () => {
        const writer = near.writable.getWriter();
        for (let offset = 0; offset < payload.length; offset += 16 * 1024) {
          await writer.write(payload.slice(offset, offset + 16 * 1024));
        }
        await writer.close();
      })();
      const chunks: Uint8Array[] = [];
      await within(
        (async () => {
          for await (const chunk of near.readable) chunks.push(chunk);
        })(),
        10_000,
        "the echo through nginx",
      );
      await writing;
      expect(Buffer.concat(chunks).equals(Buffer.from(payload))).toBe(true);
    } finally {
      await remote.close();
    }
    // The session really went through nginx, HTTP/2 first.
    // (nginx logs a WebSocket request once its connection closes.)
    const log = (): Promise<string> => readFile(join(proxies[0]!.dir, "access.log"), "utf8");
    await expect.poll(log, { timeout: 5000 }).toMatch(/GET \/beamhub\/v1\/ws[^"]* HTTP\/1\.1" 101/);
    expect(await log()).toMatch(/POST \/beamhub\/v1\/session HTTP\/2\.0" 505/);
  });

  it("passes plain requests from HTTP/1.1 clients on kept upstream connections", async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: certificate.cert });
    try {
      const before = upstreamConnections;
      for (let i = 0; i < 20; i++) {
        const reply = await postHttp1(agent, { i });
        expect(reply.status).toBe(200);
        expect(JSON.parse(reply.body)).toEqual({ i });
      }
      // One after another, each request finds the previous one's upstream connection idle in
      // nginx's cache (`keepalive`): a `Connection: close` would have made 20.
      expect(upstreamConnections - before).toBeLessThanOrEqual(1);
    } finally {
      agent.destroy();
    }
  });

  it("passes plain requests from HTTP/2 clients (curl's default)", async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const session = http2Connect(url, { ca: certificate.cert });
    session.on("error", () => undefined);
    try {
      const reply = await within(
        new Promise<{ status: number; body: string }>((resolve, reject) => {
          const stream = session.request({
            ":method": "POST",
            ":path": "/beamhub/v1/call/echo",
            "content-type": "application/json",
          });
          let status = 0;
          let body = "";
          stream.setEncoding("utf8");
          stream.once("response", (headers) => (status = Number(headers[":status"])));
          stream.on("data", (chunk: string) => (body += chunk));
          stream.once("end", () => resolve({ status, body }));
          stream.once("error", reject);
          stream.end(JSON.stringify({ over: "h2" }));
        }),
        5000,
        "an HTTP/2 plain request through nginx",
      );
      expect(reply.status).toBe(200);
      expect(JSON.parse(reply.body)).toEqual({ over: "h2" });
    } finally {
      session.destroy();
    }
  });
});

describe("a hub behind nginx buffering request bodies (proxy_request_buffering on)", () => {
  it("an auto client falls back to the WebSocket when the HTTP/2 session's first bytes do not come", async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const remote = await within(
      connectHttps(bufferingUrl, { ca: certificate.cert, firstByteTimeout: 500 }),
      8000,
      "connectHttps through the buffering nginx",
    );
    try {
      expect(remote.transport).toBe("websocket");
      expect(remote.fallbackCause?.code).toBe("ECONNECT");
      expect(remote.fallbackCause?.message).toMatch(
        /sent no response within 500 ms of the HTTP\/2 session request/,
      );
      expect(await remote.call("echo", { buffered: false })).toEqual({ buffered: false });
    } finally {
      await remote.close();
    }
  });
});
