// A hub behind nginx (`listen ... ssl http2`), two configurations:
//   before   the snippet transports/http2/README.md had before issue 12: `Connection: close` on
//            plain requests (the WebSocket map's `"" close`), request bodies buffered (nginx's
//            default), no upstream keep-alive
//   after    exactly the documented snippet (test/helpers/nginx.ts places it)
// and per configuration:
//   fallback   how long an "auto" connectHttps takes to get a session (median of 5), with the
//              first-byte deadline (default 2 s) and, for "before", with it as long as the
//              connect timeout (10 s: the client before issue 12)
//   plain      POST /beamhub/v1/call/hub.info through nginx: requests/s from 32 keep-alive
//              HTTP/1.1 connections for `seconds`, and straight to the hub for reference;
//              BENCH_ROUNDS (default 3) rounds, alternating the targets, medians
// The hub is a `beamhub serve` child process; nginx runs one worker; the load comes from this
// process. Run: npx tsx bench/nginx.ts [seconds=5]
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { Agent, request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectHttps } from "../index.js";
import {
  documentedNginxConfig,
  installNginx,
  nginxConf,
  placeConfig,
  startNginx,
} from "../test/helpers/nginx.js";
import { freePort } from "../test/helpers/ports.js";

const seconds = Number(process.argv[2] ?? 5);
const CONNECTIONS = 32;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

/** The `http {}` part before issue 12 (its location block as documented then), with `listen ... http2`. */
function beforeConfig(port: number, upstreamPort: number, certFile: string, keyFile: string): string {
  return `
  map $http_upgrade $connection_upgrade { default upgrade; "" close; }
  server {
    listen 127.0.0.1:${port} ssl http2;
    ssl_certificate ${certFile};
    ssl_certificate_key ${keyFile};
    location / {
      proxy_pass https://127.0.0.1:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_verify off;
      proxy_read_timeout 1h;
    }
  }`;
}

async function startHub(dir: string): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(import.meta.dirname, "../cli/main.ts"),
      "serve",
      "--socket",
      join(dir, "hub.sock"),
      "--listen-https",
      "127.0.0.1:0",
      "--cert-dir",
      join(dir, "hub-cert"),
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`beamhub serve did not start: ${stderr}`)), 30_000);
    child.stderr!.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
      const found = stderr.match(/serving on https:\/\/127\.0\.0\.1:(\d+)/);
      if (found !== null) {
        clearTimeout(timer);
        resolve(Number(found[1]));
      }
    });
  });
  return {
    port,
    stop: async () => {
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

/** Median ms of `rounds` auto connects to `url`, and the transport they ended on. */
async function fallback(url: string, ca: string, firstByteTimeout: number, rounds = 5): Promise<string> {
  const times: number[] = [];
  let transport = "";
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const remote = await connectHttps(url, { ca, firstByteTimeout });
    times.push(performance.now() - started);
    transport = `${remote.transport}${remote.fallbackCause ? ` (${remote.fallbackCause.code})` : ""}`;
    await remote.close();
  }
  times.sort((a, b) => a - b);
  return `${times[Math.floor(times.length / 2)]!.toFixed(0)} ms → ${transport}`;
}

/** Requests/s of POST /beamhub/v1/call/hub.info on `CONNECTIONS` keep-alive connections. */
async function plainRate(port: number, ca: string): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS, ca });
  const body = "null";
  const one = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          servername: "localhost",
          port,
          method: "POST",
          path: "/beamhub/v1/call/hub.info",
          agent,
          headers: { "content-type": "application/json", "content-length": body.length },
        },
        (res) => {
          res.resume();
          res.once("end", () =>
            res.statusCode === 200 ? resolve() : reject(new Error(`HTTP ${res.statusCode}`)),
          );
        },
      );
      req.once("error", reject);
      req.end(body);
    });
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (performance.now() < end) {
        await one();
        done++;
      }
    }),
  );
  const rate = done / ((performance.now() - start) / 1000);
  agent.destroy();
  return rate;
}

const installed = await installNginx();
if (installed.path === undefined) throw new Error(`no nginx: ${installed.reason}`);
const dir = await mkdtemp(join(tmpdir(), "beamhub-bench-nginx-"));
const hub = await startHub(dir);
try {
  const hubCa = await readFile(join(dir, "hub-cert", "cert.pem"), "utf8");
  // nginx presents the hub's development certificate too (valid for localhost): one CA to pin.
  const certFile = join(dir, "hub-cert", "cert.pem");
  const keyFile = join(dir, "hub-cert", "key.pem");
  const documented = await documentedNginxConfig();
  const proxies: { name: string; port: number; stop(): Promise<void> }[] = [];
  try {
    for (const name of ["before", "after"]) {
      const port = await freePort();
      const http =
        name === "before"
          ? beforeConfig(port, hub.port, certFile, keyFile)
          : placeConfig(documented, { port, upstreamPort: hub.port, certFile, keyFile });
      const nginxDir = await mkdtemp(join(dir, `${name}-`));
      const nginx = await startNginx(installed.path, nginxDir, nginxConf(nginxDir, http), port);
      proxies.push({ name, port, stop: nginx.stop });
      const url = `https://localhost:${port}`;
      console.log(`${name}: auto connect, first-byte deadline 2 s: ${await fallback(url, hubCa, 2000)}`);
      if (name === "before") {
        console.log(
          `${name}: auto connect, as before issue 12 (10 s): ${await fallback(url, hubCa, 10_000, 1)}`,
        );
      }
    }
    // Rounds alternate the targets, so that a change in the machine's load hits all alike.
    const rates = new Map<string, number[]>();
    const targets = [{ name: "direct", port: hub.port }, ...proxies];
    for (let round = 0; round < ROUNDS; round++) {
      for (const target of targets) {
        const rate = await plainRate(target.port, hubCa);
        rates.set(target.name, [...(rates.get(target.name) ?? []), rate]);
      }
    }
    for (const [name, values] of rates) {
      const sorted = [...values].sort((a, b) => a - b);
      console.log(
        `plain ${name}: median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(0)} req/s (${values.map((v) => v.toFixed(0)).join(", ")})`,
      );
    }
  } finally {
    await Promise.all(proxies.map((proxy) => proxy.stop()));
  }
} finally {
  await hub.stop();
  await rm(dir, { recursive: true, force: true });
}
