/**
 * The curl face (issue 19): the hub's plain HTTP mapping (`POST /beamhub/v1/call/echo`, JSON in
 * and out, on the HTTPS listener) against two minimal Node `http2` servers (same TLS, same JSON
 * body, `allowHTTP1` like the hub's listener): the echo (the body's bytes back), and the JSON call
 * (what any call mapping must do besides: decode the body, call a handler found by name in
 * process, encode its reply), loaded by h2load (Debian `nghttp2-client`) with `-c 10 -m 10` over
 * HTTP/2 and over HTTP/1.1 (`--h1`), in the same run.
 *
 *   npx tsx bench/curl-face.ts       (BENCH_REQUESTS=20000 per h2load run, BENCH_ROUNDS=5)
 *   BENCH_PROFILE=DIR                the serving process writes its --cpu-prof there
 *   BENCH_ONLY=REGEX                 only the contenders whose name matches (e.g. to profile one)
 *   BENCH_BUILT=1                    each tree's compiled dist/ (`npm run build`), not its sources
 *                                    under tsx (whose helpers name every closure made per request)
 *   CURL_TREES=/tmp/ab/old,/tmp/ab/new   one hub per source tree (git archive), A/B in one run
 *   BENCH_NODELAY=1                  adds the echo with TCP_NODELAY on its connections, as the hub's
 *                                    listener sets it (for sessions and event streams): what the
 *                                    option alone costs a request/response face
 *
 * All servers live in one child process (the hub with its `echo` service in the same process,
 * as `beamhub serve` has it); each round runs every contender once, rotated. Printed: requests/s
 * (h2load's), the child's CPU per request (user + system, measured by the child itself, less
 * disturbed by the load of a shared machine than the rate), and the medians of the per-round
 * ratios with their spread. h2load must report no failed request and only 2xx, else the run stops.
 */
import { execFile, fork, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import { loadavg, tmpdir } from "node:os";
import type { TLSSocket } from "node:tls";
import { basename, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { createDevCertificate } from "../index.js";
import type * as Beamhub from "../index.js";
import { formatSpread, median, roundRatioSpread } from "./harness.js";

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PROFILE = process.env.BENCH_PROFILE;
/** BENCH_BUILT=1: each tree's compiled package (its dist/, from `npm run build`), as users run it. */
const BUILT = process.env.BENCH_BUILT === "1";
/** Only the contenders whose name matches (a regular expression), e.g. to profile one server alone. */
const ONLY = process.env.BENCH_ONLY === undefined ? undefined : new RegExp(process.env.BENCH_ONLY);
/** BENCH_NODELAY=1: the echo once more, with TCP_NODELAY set as the hub's listener sets it. */
const NODELAY = process.env.BENCH_NODELAY === "1";
const BODY = JSON.stringify({ name: "curl", data: "x".repeat(40) });
const HERE = fileURLToPath(import.meta.url);
const TREES = (process.env.CURL_TREES ?? resolve(HERE, "../..")).split(",").filter((tree) => tree !== "");
const run = promisify(execFile);

interface Ports {
  /** One hub per tree, in CURL_TREES order. */
  hubs: number[];
  node: number;
  nodeJsonCall: number;
  /** The echo with TCP_NODELAY (BENCH_NODELAY=1). */
  nodeNoDelay?: number;
}

// ---------------------------------------------------------------------------------------------
// Child: the servers

type NodeHandler = (body: Buffer, path: string) => Buffer;

/**
 * A minimal Node `http2` server (compatibility API, HTTP/2 and HTTP/1.1 on one port, like the
 * hub's listener): the body read with `data` events, `answer`'s bytes sent with 200.
 */
async function nodeServer(
  cert: { key: string; cert: string },
  answer: NodeHandler,
  noDelay = false,
): Promise<number> {
  const server = http2.createSecureServer(
    { ...cert, minVersion: "TLSv1.3", allowHTTP1: true },
    (request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        const body = answer(Buffer.concat(chunks), request.url);
        response.writeHead(200, { "content-type": "application/json", "content-length": body.byteLength });
        response.end(body);
      });
    },
  );
  // As the hub's listener does (transports/http2/listen.ts); Node leaves Nagle's algorithm on.
  if (noDelay) server.on("secureConnection", (socket: TLSSocket) => socket.setNoDelay(true));
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return (server.address() as { port: number }).port;
}

/** The minimal echo: the body's bytes back. */
const echoBytes: NodeHandler = (body) => body;

/**
 * What any call mapping must do on top of the echo, and nothing more: decode the JSON body,
 * look the handler up by the name in the path and call it in process, encode its reply.
 */
function jsonCall(): NodeHandler {
  const handlers = new Map<string, (data: unknown) => unknown>([["echo", (data) => data]]);
  return (body, path) => {
    const handler = handlers.get(path.slice(path.lastIndexOf("/") + 1));
    if (handler === undefined) throw new Error(`no handler for ${path}`);
    return Buffer.from(JSON.stringify(handler(JSON.parse(body.toString()))));
  };
}

async function child(trees: string[]): Promise<void> {
  const cert = await createDevCertificate();
  const hubs: number[] = [];
  for (const tree of trees) {
    const entry = BUILT ? join(tree, "dist", "index.js") : join(tree, "index.ts");
    const { Hub, listenHttps } = (await import(entry)) as typeof Beamhub;
    const hub = new Hub();
    await hub.register("echo", (data: unknown) => data);
    hubs.push((await listenHttps(hub, { ...cert, host: "127.0.0.1" })).port);
  }
  const ports: Ports = {
    hubs,
    node: await nodeServer(cert, echoBytes),
    nodeJsonCall: await nodeServer(cert, jsonCall()),
    ...(NODELAY ? { nodeNoDelay: await nodeServer(cert, echoBytes, true) } : {}),
  };
  process.on("message", (message) => {
    if (message === "cpu") {
      const usage = process.cpuUsage();
      process.send!(usage.user + usage.system);
    } else if (message === "exit") process.exit(0); // writes the --cpu-prof profile
  });
  process.send!(ports);
}

// ---------------------------------------------------------------------------------------------
// Parent: h2load against each

async function cpuOf(server: ChildProcess): Promise<number> {
  server.send("cpu");
  const [micros] = (await once(server, "message", { signal: AbortSignal.timeout(30_000) })) as [number];
  return micros;
}

/** One h2load run; returns requests/s, or throws if any request failed or was not 2xx. */
async function h2load(url: string, bodyFile: string, h1: boolean): Promise<number> {
  const args = [
    "-n",
    String(REQUESTS),
    "-c",
    "10",
    "-m",
    "10",
    "-d",
    bodyFile,
    "-H",
    "content-type: application/json",
  ];
  if (h1) args.push("--h1");
  const { stdout } = await run("h2load", [...args, url], { timeout: 300_000, maxBuffer: 1 << 20 });
  const done =
    /requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(stdout);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(stdout);
  const rate = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(stdout);
  if (done === null || codes === null || rate === null)
    throw new Error(`unexpected h2load output:\n${stdout}`);
  if (Number(done[3]) + Number(done[4]) > 0 || Number(codes[1]) !== REQUESTS) {
    throw new Error(`h2load against ${url}: not every request succeeded with 2xx:\n${stdout}`);
  }
  return Number(rate[1]);
}

async function parent(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-curl-face-"));
  const bodyFile = join(dir, "body.json");
  writeFileSync(bodyFile, BODY);
  const profile = PROFILE === undefined ? [] : ["--cpu-prof", `--cpu-prof-dir=${PROFILE}`];
  const server = fork(HERE, ["child", ...TREES], {
    execArgv: ["--import", "tsx", ...profile],
    stdio: "inherit",
  });
  try {
    const [ports] = (await once(server, "message", { signal: AbortSignal.timeout(60_000) })) as [Ports];
    const contenders = [
      ...TREES.flatMap((tree, index) =>
        [false, true].map((h1) => ({
          name: `beamhub ${basename(tree)}#${index}, ${h1 ? "HTTP/1.1" : "HTTP/2"}`,
          url: `https://127.0.0.1:${ports.hubs[index]}/beamhub/v1/call/echo`,
          h1,
        })),
      ),
      ...[false, true].flatMap((h1) => [
        { name: `node echo, ${h1 ? "HTTP/1.1" : "HTTP/2"}`, url: `https://127.0.0.1:${ports.node}/echo`, h1 },
        {
          name: `node JSON call, ${h1 ? "HTTP/1.1" : "HTTP/2"}`,
          url: `https://127.0.0.1:${ports.nodeJsonCall}/call/echo`,
          h1,
        },
        ...(ports.nodeNoDelay === undefined
          ? []
          : [
              {
                name: `node echo nodelay, ${h1 ? "HTTP/1.1" : "HTTP/2"}`,
                url: `https://127.0.0.1:${ports.nodeNoDelay}/echo`,
                h1,
              },
            ]),
      ]),
    ]
      .filter((contender) => ONLY === undefined || ONLY.test(contender.name))
      .map((contender) => ({ ...contender, rates: [] as number[], cpu: [] as number[] }));
    for (const contender of contenders) await h2load(contender.url, bodyFile, contender.h1); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(i + round) % contenders.length]!;
        const before = await cpuOf(server);
        contender.rates.push(await h2load(contender.url, bodyFile, contender.h1));
        contender.cpu.push(((await cpuOf(server)) - before) / REQUESTS);
      }
    }
    console.log(
      `curl face: ${ROUNDS} rounds x ${REQUESTS} requests, h2load -c 10 -m 10, ${BODY.length} B JSON, ` +
        `node ${process.version}, load ${loadavg()
          .map((load) => load.toFixed(1))
          .join(" ")}`,
    );
    for (const { name, rates, cpu } of contenders) {
      console.log(
        `  ${name.padEnd(30)} ${Math.round(median(rates)).toLocaleString("en")} req/s, ` +
          `server CPU ${median(cpu).toFixed(1)} µs/request (${Math.min(...cpu).toFixed(1)}–${Math.max(...cpu).toFixed(1)})`,
      );
    }
    console.log("ratios, medians of per-round ratios (lowest–highest):");
    for (const version of ["HTTP/2", "HTTP/1.1"]) {
      const ofVersion = contenders.filter((contender) => contender.name.endsWith(`, ${version}`));
      const peers = ofVersion.filter((contender) => contender.name.startsWith("node "));
      const ours = ofVersion.filter((contender) => contender.name.startsWith("beamhub "));
      // Each hub against the peers (goal: >= 0.8x the echo's rate), and each later tree against the first.
      for (const [index, hub] of ours.entries()) {
        for (const other of index === 0 ? peers : [...peers, ours[0]!]) {
          console.log(
            `  ${hub.name} / ${other.name}: rate ${formatSpread(roundRatioSpread(hub.rates, other.rates))}, ` +
              `CPU per request ${formatSpread(roundRatioSpread(hub.cpu, other.cpu))}`,
          );
        }
      }
      for (const peer of peers.slice(1)) {
        console.log(
          `  ${peer.name} / ${peers[0]!.name}: rate ${formatSpread(roundRatioSpread(peer.rates, peers[0]!.rates))}, ` +
            `CPU per request ${formatSpread(roundRatioSpread(peer.cpu, peers[0]!.cpu))}`,
        );
      }
    }
  } finally {
    const exited = once(server, "exit");
    server.send("exit");
    await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000).unref())]);
    server.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "child") await child(process.argv.slice(3));
else await parent();
