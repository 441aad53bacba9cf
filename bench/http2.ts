// The HTTPS transports against their raw baselines and a peer, between two processes, in one
// run: request/response (64 B, 100 in flight) for beamhub `hub.call` over HTTP/2 and over the
// WebSocket fallback, raw node:http2 unary (one h2 stream per request), @grpc/grpc-js unary and
// raw `ws` messages; bulk bytes through one beamhub byte stream against one raw HTTP/2 stream
// (tuned windows, and Node's defaults for reference) — with the HTTPS sessions' default 4 MiB
// stream window and, for comparison, the protocol's 1 MiB (BENCH_ALT_WINDOW); opening byte streams (a call carrying a
// ByteStream, 64 B each way) against opening h2 streams. Prints medians and ratios.
//
//   npx tsx bench/http2.ts            (BENCH_SECONDS=1 BENCH_ROUNDS=5 by default)
//   BENCH_CHILD_PROF=DIR              writes the serving child's CPU profile to DIR
//
// The child process serves everything over TLS 1.3 on loopback: the hub (listenHttps, with the
// services registered in the hub's own process), a raw HTTP/2 echo/sink server with the same
// tuned settings, one with Node's defaults, a raw `ws` echo server and a grpc-js server.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http2 from "node:http2";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { WebSocket, WebSocketServer } from "ws";
import {
  ByteStream,
  type ByteStreamPort,
  type ByteStreamSink,
  type CertificatePair,
  connectHttps,
  createDevCertificate,
  Hub,
  type HubClient,
  listenHttps,
} from "../index.js";
import { HTTP2_TUNING } from "../internal.js";
import { median, rateFor, roundRatio } from "./harness.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const IN_FLIGHT = 100;
const PAYLOAD = 64;
const CHUNK = 64 * 1024;
/** The session stream window of the comparison hub (HTTPS sessions default to 4 MiB). */
const ALT_WINDOW = Number(process.env.BENCH_ALT_WINDOW ?? 1024 * 1024);
const ALT_NAME = `beamhub byte stream bulk (HTTP/2, ${ALT_WINDOW / 1024 / 1024} MiB window)`;
/** Runs only the scenarios whose name matches (a regular expression), e.g. `bulk`. */
const ONLY = new RegExp(process.env.BENCH_ONLY ?? "");

const PROTO = `syntax = "proto3";
package bench;
message Blob { bytes data = 1; }
service Echo { rpc Echo (Blob) returns (Blob); }
`;

const TUNED: http2.Settings = {
  initialWindowSize: HTTP2_TUNING.initialWindowSize,
  maxFrameSize: HTTP2_TUNING.maxFrameSize,
  maxConcurrentStreams: HTTP2_TUNING.maxConcurrentStreams,
};

interface Ports {
  hub: number;
  /** The same hub with another session stream window (PROTOCOL.md `streamWindow`). */
  hubAlt: number;
  h2: number;
  h2Default: number;
  ws: number;
  grpc: number;
}

// ---------------------------------------------------------------------------------------------
// Child: the servers

function rawHttp2Server(cert: CertificatePair, tuned: boolean): Promise<number> {
  const server = http2.createSecureServer({
    ...cert,
    minVersion: "TLSv1.3",
    ...(tuned ? { settings: TUNED, maxSessionMemory: HTTP2_TUNING.maxSessionMemory } : {}),
  });
  if (tuned) server.on("session", (session) => session.setLocalWindowSize(HTTP2_TUNING.connectionWindowSize));
  server.on("stream", (stream, headers) => {
    if (headers[":path"] === "/sink") {
      let total = 0;
      stream.on("data", (chunk: Buffer) => (total += chunk.byteLength));
      stream.on("end", () => {
        stream.respond({ ":status": 200 });
        stream.end(String(total));
      });
      return;
    }
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.on("end", () => {
      stream.respond({ ":status": 200 });
      stream.end(Buffer.concat(chunks));
    });
  });
  return listen(server);
}

function listen(server: {
  listen(port: number, host: string, done: () => void): unknown;
  address(): unknown;
}): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)),
  );
}

async function child(dir: string): Promise<void> {
  const cert = await createDevCertificate();
  writeFileSync(join(dir, "cert.pem"), cert.cert);
  const hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  await hub.register("stream.echo", async ({ stream }: { stream: ByteStream }) => {
    await stream.readable.pipeTo(stream.writable);
  });
  await hub.register("port.echo", ({ stream }: { stream: ByteStream }) => echoThroughPort(stream));
  await hub.register("stream.count", async ({ stream }: { stream: ByteStream }) => {
    let total = 0;
    for await (const chunk of stream.readable) total += chunk.byteLength;
    return total;
  });
  // 100 calls in flight that each open a byte stream need more than the default 64 open streams
  // per session (the hub refuses the 65th with ELIMIT): the bench raises it, as a server for such
  // a client would.
  const listener = await listenHttps(hub, { ...cert, limits: { maxStreams: 4 * IN_FLIGHT } });
  const alt = await listenHttps(hub, { ...cert, limits: { streamWindow: ALT_WINDOW } });

  const wsServer = https.createServer({ ...cert, minVersion: "TLSv1.3" });
  const wss = new WebSocketServer({ server: wsServer, perMessageDeflate: false });
  wss.on("connection", (socket) => socket.on("message", (data: Buffer) => socket.send(data)));

  const definition = protoLoader.loadSync(join(dir, "bench.proto"));
  const proto = grpc.loadPackageDefinition(definition) as unknown as {
    bench: { Echo: grpc.ServiceClientConstructor };
  };
  const grpcServer = new grpc.Server();
  grpcServer.addService(proto.bench.Echo.service, {
    Echo: (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) =>
      callback(null, call.request),
  });
  const grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createSsl(null, [
        { private_key: Buffer.from(cert.key), cert_chain: Buffer.from(cert.cert) },
      ]),
      (error, port) => (error ? reject(error) : resolve(port)),
    ),
  );

  const ports: Ports = {
    hub: listener.port,
    hubAlt: alt.port,
    h2: await rawHttp2Server(cert, true),
    h2Default: await rawHttp2Server(cert, false),
    ws: await listen(wsServer),
    grpc: grpcPort,
  };
  process.stdout.write(`${JSON.stringify(ports)}\n`);
  process.stdin.resume();
  process.stdin.on("end", () => process.exit(0));
}

// ---------------------------------------------------------------------------------------------
// Parent: the clients

/** Operations/s of `operation` with `inFlight` outstanding, for SECONDS after a warm-up. */
function rate(inFlight: number, operation: () => Promise<unknown>): Promise<number> {
  return rateFor(SECONDS, inFlight, operation);
}

/** One raw HTTP/2 unary request: a stream with a 64 B body, answered with the same bytes. */
function h2Unary(session: http2.ClientHttp2Session, body: Buffer, path = "/echo"): Promise<void> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ":method": "POST", ":path": path });
    stream.on("data", () => undefined);
    stream.on("end", resolve);
    stream.on("error", reject);
    stream.end(body);
  });
}

function h2Session(port: number, ca: string, tuned: boolean): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://localhost:${port}`, {
    ca,
    ...(tuned ? { settings: TUNED, maxSessionMemory: HTTP2_TUNING.maxSessionMemory } : {}),
  });
  return new Promise((resolve, reject) => {
    session.once("connect", () => {
      if (tuned) session.setLocalWindowSize(HTTP2_TUNING.connectionWindowSize);
      resolve(session);
    });
    session.once("error", reject);
  });
}

/** Bytes/s through one raw HTTP/2 stream in 64 KiB writes, until the server counted them. */
async function h2Bulk(session: http2.ClientHttp2Session): Promise<number> {
  const stream = session.request({ ":method": "POST", ":path": "/sink" });
  const chunk = Buffer.alloc(CHUNK, 0x62);
  let answer = "";
  stream.on("data", (data: Buffer) => (answer += data.toString()));
  const ended = new Promise((resolve) => stream.on("end", resolve));
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let sent = 0;
  while (performance.now() < stopAt) {
    if (!stream.write(chunk)) await new Promise((resolve) => stream.once("drain", resolve));
    sent += CHUNK;
  }
  stream.end();
  await ended;
  if (Number(answer) !== sent) throw new Error(`raw bulk: sent ${sent}, the server counted ${answer}`);
  return sent / ((performance.now() - start) / 1000);
}

/** Bytes/s through one beamhub byte stream in 64 KiB writes, until the service counted them. */
async function beamhubBulk(client: HubClient): Promise<number> {
  const [mine, theirs] = ByteStream.pair();
  const counted = client.call<number>("stream.count", { stream: theirs }, { timeout: 0 });
  const writer = mine.writable.getWriter();
  const chunk = new Uint8Array(CHUNK).fill(0x62);
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let sent = 0;
  while (performance.now() < stopAt) {
    await writer.write(chunk);
    sent += CHUNK;
  }
  await writer.close();
  const total = await counted;
  if (total !== sent) throw new Error(`beamhub bulk: sent ${sent}, the service counted ${total}`);
  return total / ((performance.now() - start) / 1000);
}

/** Wakes the writer of a port-driven bulk transfer on `drain`; the answer comes as the reply. */
class DrainSink implements ByteStreamSink {
  #wake: (() => void) | undefined;
  readonly reset: (error: unknown) => void;
  constructor(fail: (error: unknown) => void) {
    this.reset = fail;
  }
  data(): void {}
  end(): void {}
  drain(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
  drained(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }
}

/**
 * The same bulk with the client's end written through its port (a call per chunk, Node-style
 * `drain`, as the raw h2 contender writes), to tell the web streams' share from the transport's.
 */
async function beamhubPortBulk(client: HubClient): Promise<number> {
  const [mine, theirs] = ByteStream.pair();
  const counted = client.call<number>("stream.count", { stream: theirs }, { timeout: 0 });
  const port = mine.openPort()!;
  let failure: unknown;
  const sink = new DrainSink((error) => (failure = error));
  port.start(sink);
  const chunk = new Uint8Array(CHUNK).fill(0x62);
  const start = performance.now();
  const stopAt = start + SECONDS * 1000;
  let sent = 0;
  while (performance.now() < stopAt && failure === undefined) {
    sent += CHUNK;
    if (!port.write(chunk)) await sink.drained();
  }
  port.end();
  const total = await counted;
  if (total !== sent) throw new Error(`beamhub port bulk: sent ${sent}, the service counted ${total}`);
  return total / ((performance.now() - start) / 1000);
}

/** A call carrying a new byte stream: 64 B out, the same 64 B back, both directions closed. */
async function beamhubStreamOpen(client: HubClient, body: Uint8Array): Promise<void> {
  const [mine, theirs] = ByteStream.pair();
  const served = client.call("stream.echo", { stream: theirs });
  const writer = mine.writable.getWriter();
  void writer.write(body);
  void writer.close();
  for await (const _chunk of mine.readable) {
    // drain the echo
  }
  await served;
}

/**
 * Echoes through the end's port (no web stream). The sinks are classes, as the library's own
 * are: V8 may pretenure object literals, and an old sink literal keeps the young stream it
 * reaches alive through scavenges (issue 19).
 */
function echoThroughPort(stream: ByteStream): Promise<void> {
  return new Promise((resolve) => {
    const port = stream.openPort()!;
    port.start(new EchoSink(port, resolve));
  });
}

class EchoSink implements ByteStreamSink {
  constructor(
    private readonly port: ByteStreamPort,
    private readonly done: () => void,
  ) {}
  data(chunk: Uint8Array): void {
    this.port.write(chunk);
  }
  end(): void {
    this.port.end();
    this.done();
  }
  drain(): void {}
  reset(): void {
    this.done();
  }
}

/** Resolves at the end of what arrives (ignored), rejects on a reset. */
class EndSink implements ByteStreamSink {
  constructor(
    readonly end: () => void,
    readonly reset: (error: unknown) => void,
  ) {}
  data(): void {}
  drain(): void {}
}

/** A stream open with the client's end driven through its port, the service echoing through its. */
async function beamhubPortStreamOpen(client: HubClient, body: Uint8Array): Promise<void> {
  const [mine, theirs] = ByteStream.pair();
  const served = client.call("port.echo", { stream: theirs });
  const port = mine.openPort()!;
  const ended = new Promise<void>((resolve, reject) => port.start(new EndSink(resolve, reject)));
  port.write(body);
  port.end();
  await ended;
  await served;
}

/** Raw `ws` request/response: `inFlight` messages outstanding, each answered by one echo. */
async function wsRate(port: number, ca: string, inFlight: number, body: Buffer): Promise<number> {
  const socket = new WebSocket(`wss://localhost:${port}/`, { ca, perMessageDeflate: false });
  await new Promise((resolve, reject) => {
    socket.once("open", resolve);
    socket.once("error", reject);
  });
  let done = 0;
  let stopAt = performance.now() + 200;
  let measuring = false;
  let finish: () => void = () => undefined;
  let outstanding = 0;
  socket.on("message", () => {
    outstanding--;
    if (measuring) done++;
    if (performance.now() < stopAt) {
      outstanding++;
      socket.send(body);
    } else if (outstanding === 0) finish();
  });
  const round = (): Promise<void> =>
    new Promise((resolve) => {
      finish = resolve;
      for (let i = 0; i < inFlight; i++) {
        outstanding++;
        socket.send(body);
      }
    });
  await round();
  measuring = true;
  const started = performance.now();
  stopAt = started + SECONDS * 1000;
  await round();
  const result = done / ((performance.now() - started) / 1000);
  socket.close();
  return result;
}

async function parent(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-http2-bench-"));
  writeFileSync(join(dir, "bench.proto"), PROTO);
  const server = spawn(
    process.execPath,
    [
      ...(process.env.BENCH_CHILD_PROF
        ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CHILD_PROF}`]
        : []),
      "--import",
      "tsx",
      fileURLToPath(import.meta.url),
      "child",
      dir,
    ],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  try {
    const ports = JSON.parse(
      await new Promise<string>((resolve) =>
        server.stdout.once("data", (data: Buffer) => resolve(data.toString())),
      ),
    ) as Ports;
    const ca = readFileSync(join(dir, "cert.pem"), "utf8");
    const url = `https://localhost:${ports.hub}`;
    const overHttp2 = await connectHttps(url, { ca, transport: "http2" });
    const overWebSocket = await connectHttps(url, { ca, transport: "websocket" });
    const altWindow = await connectHttps(`https://localhost:${ports.hubAlt}`, {
      ca,
      transport: "http2",
      limits: { streamWindow: ALT_WINDOW },
    });
    const h2Tuned = await h2Session(ports.h2, ca, true);
    const h2Default = await h2Session(ports.h2Default, ca, false);

    const definition = protoLoader.loadSync(join(dir, "bench.proto"));
    const proto = grpc.loadPackageDefinition(definition) as unknown as {
      bench: { Echo: grpc.ServiceClientConstructor };
    };
    const grpcClient = new proto.bench.Echo(
      `localhost:${ports.grpc}`,
      grpc.credentials.createSsl(Buffer.from(ca)),
    ) as unknown as grpc.Client & {
      Echo(request: unknown, callback: (error: unknown, reply: unknown) => void): void;
    };
    const grpcCall = (data: Buffer): Promise<unknown> =>
      new Promise((resolve, reject) =>
        grpcClient.Echo({ data }, (error, reply) => (error ? reject(error) : resolve(reply))),
      );

    const payload = new Uint8Array(PAYLOAD).fill(0x61);
    const body = Buffer.alloc(PAYLOAD, 0x61);
    type Scenario = [name: string, run: () => Promise<number>, unit: string];
    const scenarios: Scenario[] = [
      ["beamhub call over HTTP/2", () => rate(IN_FLIGHT, () => overHttp2.call("echo", payload)), "req/s"],
      ["raw node:http2 unary", () => rate(IN_FLIGHT, () => h2Unary(h2Tuned, body)), "req/s"],
      ["grpc-js unary", () => rate(IN_FLIGHT, () => grpcCall(body)), "req/s"],
      [
        "beamhub call over WebSocket",
        () => rate(IN_FLIGHT, () => overWebSocket.call("echo", payload)),
        "req/s",
      ],
      ["raw ws messages", () => wsRate(ports.ws, ca, IN_FLIGHT, body), "req/s"],
      ["beamhub byte stream bulk (HTTP/2)", () => beamhubBulk(overHttp2), "B/s"],
      ["beamhub byte stream bulk, port (HTTP/2)", () => beamhubPortBulk(overHttp2), "B/s"],
      [ALT_NAME, () => beamhubBulk(altWindow), "B/s"],
      ["raw http2 stream bulk, tuned windows", () => h2Bulk(h2Tuned), "B/s"],
      ["raw http2 stream bulk, default windows", () => h2Bulk(h2Default), "B/s"],
      ["beamhub byte stream bulk (WebSocket)", () => beamhubBulk(overWebSocket), "B/s"],
      [
        "beamhub byte stream opens (HTTP/2)",
        () => rate(IN_FLIGHT, () => beamhubStreamOpen(overHttp2, payload)),
        "streams/s",
      ],
      [
        "beamhub byte stream opens, ports (HTTP/2)",
        () => rate(IN_FLIGHT, () => beamhubPortStreamOpen(overHttp2, payload)),
        "streams/s",
      ],
    ];
    console.log(
      `http2 bench: ${ROUNDS} rounds x ${SECONDS} s, ${IN_FLIGHT} in flight, ${PAYLOAD} B, node ${process.version}, medians`,
    );
    const chosen = scenarios.filter(([name]) => ONLY.test(name));
    const samples = new Map<string, number[]>(chosen.map(([name]) => [name, []]));
    for (let i = 0; i < ROUNDS; i++) {
      for (const [name, run] of chosen) samples.get(name)!.push(await run());
    }
    for (const [name, , unit] of chosen) {
      const value = median(samples.get(name)!);
      const shown =
        unit === "B/s"
          ? `${(value / 1e9).toFixed(2)} GB/s`
          : `${Math.round(value).toLocaleString("en-US")} ${unit}`;
      console.log(`  ${name.padEnd(42)} ${shown.padStart(18)}`);
    }
    const ratio = (a: string, b: string): string => {
      const over = samples.get(a);
      const under = samples.get(b);
      return over === undefined || under === undefined ? "-" : roundRatio(over, under).toFixed(2);
    };
    console.log("\nratios: medians of the per-round ratios (target)");
    console.log(
      `  beamhub HTTP/2 call / grpc-js unary         ${ratio("beamhub call over HTTP/2", "grpc-js unary")}×  (≥ 10)`,
    );
    console.log(
      `  beamhub HTTP/2 call / raw http2 unary       ${ratio("beamhub call over HTTP/2", "raw node:http2 unary")}×`,
    );
    console.log(
      `  beamhub stream bulk / raw tuned h2 stream   ${ratio("beamhub byte stream bulk (HTTP/2)", "raw http2 stream bulk, tuned windows")}×  (≥ 0.80)`,
    );
    console.log(
      `  the same, written through its port / raw    ${ratio("beamhub byte stream bulk, port (HTTP/2)", "raw http2 stream bulk, tuned windows")}×`,
    );
    console.log(
      `  beamhub alt window / raw tuned h2 stream    ${ratio(ALT_NAME, "raw http2 stream bulk, tuned windows")}×`,
    );
    console.log(
      `  raw tuned / raw default h2 stream           ${ratio("raw http2 stream bulk, tuned windows", "raw http2 stream bulk, default windows")}×`,
    );
    console.log(
      `  beamhub WebSocket call / raw ws             ${ratio("beamhub call over WebSocket", "raw ws messages")}×  (≥ 0.50)`,
    );
    console.log(
      `  beamhub stream opens / raw h2 stream opens  ${ratio("beamhub byte stream opens (HTTP/2)", "raw node:http2 unary")}×`,
    );
    console.log(
      `  the same, ports at both ends / raw h2       ${ratio("beamhub byte stream opens, ports (HTTP/2)", "raw node:http2 unary")}×`,
    );
    await overHttp2.close();
    await overWebSocket.close();
    await altWindow.close();
    h2Tuned.close();
    h2Default.close();
    grpcClient.close();
  } finally {
    server.stdin.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "child") await child(process.argv[3]!);
else await parent();
