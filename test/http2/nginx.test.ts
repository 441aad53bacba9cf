// Behind a standard proxy: nginx (Debian package, installed by scripts/install-nginx.sh when
// missing) terminates TLS with its own certificate and forwards HTTP/1.1 to the hub's
// listenHttps. HTTP/2 does not get through (nginx offers only http/1.1 in ALPN here), so an
// "auto" client falls back to the WebSocket, and every feature works through the proxy.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteStream, Channel } from "../../index.js";
import { connectHttps, createDevCertificate, type CertificatePair } from "../../transports/http2/index.js";
import { startHub, within, type HttpsFixture } from "./helpers.js";
import { freePort } from "../helpers/ports.js";

const INSTALL = fileURLToPath(new URL("../../scripts/install-nginx.sh", import.meta.url));

let fixture: HttpsFixture | undefined;
let nginx: ChildProcess | undefined;
let dir: string | undefined;
let certificate: CertificatePair;
let url: string;
let skipReason: string | undefined;

/** Installs nginx when missing; the binary's path, or the reason it cannot be had. */
function installNginx(): Promise<{ path?: string; reason?: string }> {
  return new Promise((resolve) => {
    execFile("bash", [INSTALL], { encoding: "utf8", timeout: 300_000 }, (error, stdout, stderr) => {
      const path = stdout.trim().split("\n").at(-1);
      if (error || !path) resolve({ reason: (stderr.trim() || String(error)).split("\n").at(-1) });
      else resolve({ path });
    });
  });
}

async function waitForPort(port: number, exited: () => string | undefined): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const failure = exited();
    if (failure !== undefined) throw new Error(failure);
    const open = await new Promise<boolean>((resolve) => {
      const socket = netConnect(port, "127.0.0.1");
      socket.once("connect", () => resolve(true));
      socket.once("error", () => resolve(false));
      socket.setTimeout(500, () => resolve(false));
    }).finally(() => undefined);
    if (open) return;
    if (Date.now() > deadline) throw new Error(`nginx did not listen on port ${port} within 10 s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function nginxConfig(dir: string, port: number, upstream: number): string {
  return `
daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log info;
events { worker_connections 256; }
http {
  access_log ${dir}/access.log;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  map $http_upgrade $connection_upgrade { default upgrade; "" close; }
  server {
    listen 127.0.0.1:${port} ssl;
    server_name localhost;
    ssl_certificate ${dir}/proxy-cert.pem;
    ssl_certificate_key ${dir}/proxy-key.pem;
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass https://127.0.0.1:${upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_verify off;
      proxy_read_timeout 1h;
      proxy_send_timeout 1h;
      proxy_buffering off;
    }
  }
}
`;
}

beforeAll(async () => {
  const installed = await installNginx();
  if (installed.path === undefined) {
    skipReason = `nginx is not installed and cannot be installed here: ${installed.reason}`;
    console.log(`skipping the nginx test: ${skipReason}`);
    return;
  }
  fixture = await startHub();
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
  await writeFile(join(dir, "proxy-cert.pem"), certificate.cert);
  await writeFile(join(dir, "proxy-key.pem"), certificate.key, { mode: 0o600 });
  const port = await freePort();
  const upstream = Number(new URL(fixture.listener.url).port);
  await writeFile(join(dir, "nginx.conf"), nginxConfig(dir, port, upstream));
  let exit: string | undefined;
  const stderr: Buffer[] = [];
  nginx = spawn(installed.path, ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  nginx.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk));
  nginx.once("exit", (code, signal) => {
    exit = `nginx exited (${code ?? signal}): ${Buffer.concat(stderr).toString().trim()}`;
  });
  await waitForPort(port, () => exit);
  url = `https://localhost:${port}`;
}, 360_000);

afterAll(async () => {
  if (nginx !== undefined && nginx.exitCode === null) {
    const exited = new Promise((resolve) => nginx!.once("exit", resolve));
    nginx.kill("SIGQUIT");
    await within(exited, 5000, "nginx to stop").catch(() => nginx!.kill("SIGKILL"));
  }
  await fixture?.close();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

describe("a hub behind nginx (TLS-terminating HTTP/1.1 reverse proxy)", () => {
  it("an auto client falls back to the WebSocket and uses every feature through the proxy", async (context) => {
    if (skipReason !== undefined) return context.skip(skipReason);
    const remote = await connectHttps(url, { ca: certificate.cert });
    try {
      expect(remote.transport).toBe("websocket");

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
    // The session really went through nginx.
    // (nginx logs a WebSocket request once its connection closes.)
    await expect
      .poll(() => readFile(join(dir!, "access.log"), "utf8"), { timeout: 5000 })
      .toMatch(/GET \/beamhub\/v1\/ws[^"]* HTTP\/1\.1" 101/);
  });
});
