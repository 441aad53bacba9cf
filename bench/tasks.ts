/**
 * Tasks: one full round trip (post → to-do list → claim → succeed → results) per operation,
 * beamhub's REST face against the TS API (TaskClient in one process) and a minimal raw Node
 * HTTP server doing the same map operations in memory (the floor any REST face pays), with
 * the same HTTP client, in one run. Then the long-poll wake-up latency of 1,000 waiting pollers.
 * Then bytes/s through a socket (`/v1/sockets`) against a raw TCP relay, in the same run.
 *
 *   npx tsx bench/tasks.ts
 */
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { Agent, createServer, request } from "node:http";
import {
  connect as connectTcp,
  createServer as createTcpServer,
  type AddressInfo,
  type Socket,
} from "node:net";
import { Hub } from "../index.js";
import type { ByteStream } from "../model/byte-stream.js";
import { listenTasksHttp } from "../tasks/rest/listen-http.js";
import { TaskBroker } from "../tasks/task-broker.js";
import { TaskClient } from "../tasks/task-client.js";
import { serveTasks } from "../tasks/task-service.js";
import { measure, report } from "./harness.js";

const APP1 = "app1.proxy1.broker";
const APP2 = "app2.proxy1.broker";
const KEY = "secret";
const agent = new Agent({ keepAlive: true, maxSockets: 2000 });

async function http(
  base: string,
  method: string,
  path: string,
  app: string,
  body?: unknown,
): Promise<{ status: number; json: unknown }> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = request(`${base}${path}`, {
      method,
      agent,
      headers: {
        authorization: `ApiKey ${app} ${KEY}`,
        ...(text === undefined
          ? {}
          : { "content-type": "application/json", "content-length": Buffer.byteLength(text) }),
      },
    });
    outgoing.once("error", reject);
    outgoing.once("response", (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.once("end", () => {
        const answer = Buffer.concat(chunks).toString();
        resolve({ status: response.statusCode!, json: answer === "" ? undefined : JSON.parse(answer) });
      });
    });
    outgoing.end(text);
  });
}

/** The same five steps against a plain HTTP server (REST face or raw). */
async function restRoundTrip(base: string): Promise<void> {
  const id = randomUUID();
  const task = {
    id,
    from: APP1,
    to: [APP2],
    body: "q",
    ttl: "60s",
    failure_strategy: "discard",
    metadata: null,
  };
  await http(base, "POST", "/v1/tasks", APP1, task);
  const todo = (await http(base, "GET", "/v1/tasks?filter=todo", APP2)).json as { id: string }[];
  if (!todo.some((t) => t.id === id)) throw new Error("the task is not to do");
  const result = (status: string) => ({
    from: APP2,
    to: [APP1],
    task: id,
    status,
    body: "a",
    metadata: null,
  });
  await http(base, "PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, result("claimed"));
  await http(base, "PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, result("succeeded"));
  const results = (await http(base, "GET", `/v1/tasks/${id}/results?wait_count=1`, APP1)).json as unknown[];
  if (results.length !== 1) throw new Error("no result");
}

/** A minimal in-memory task server: the same routes, no validation, no auth, no long polls. */
async function rawServer(): Promise<{ base: string; close: () => void }> {
  const tasks = new Map<string, { task: { id: string; to: string[] }; results: Map<string, unknown> }>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const url = new URL(req.url!, "http://raw");
      const app = String(req.headers.authorization).split(" ")[1]!;
      const parts = url.pathname.split("/");
      if (req.method === "POST") {
        const task = JSON.parse(Buffer.concat(chunks).toString()) as { id: string; to: string[] };
        tasks.set(task.id, { task, results: new Map() });
        res.writeHead(201, { location: `/v1/tasks/${task.id}` }).end();
      } else if (req.method === "PUT") {
        tasks.get(parts[3]!)!.results.set(parts[5]!, JSON.parse(Buffer.concat(chunks).toString()));
        res.writeHead(204).end();
      } else if (parts.length === 3) {
        const todo = [...tasks.values()]
          .filter((t) => t.task.to.includes(app) && !t.results.has(app))
          .map((t) => t.task);
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(todo));
      } else {
        res
          .writeHead(200, { "content-type": "application/json" })
          .end(JSON.stringify([...tasks.get(parts[3]!)!.results.values()]));
      }
    });
  });
  server.keepAliveTimeout = 60_000; // an idle keep-alive socket closing under a request is ECONNRESET
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function main(): Promise<void> {
  const broker = await TaskBroker.open({
    id: "proxy1.broker",
    apiKeys: { app1: KEY, app2: KEY },
    limits: { maxTasksPerApp: 1_000_000, maxTasks: 1_000_000 },
  });
  const listener = await listenTasksHttp(broker);
  listener.server.keepAliveTimeout = 60_000;
  const hub = new Hub();
  await serveTasks(hub.session(), broker);
  const app1 = new TaskClient(hub.session(), { app: APP1, key: KEY });
  const app2 = new TaskClient(hub.session(), { app: APP2, key: KEY });
  const raw = await rawServer();
  const beamhubRest = `http://127.0.0.1:${listener.port}`;

  const apiRoundTrip = async (): Promise<void> => {
    const task = await app1.post({ to: [APP2], body: "q" });
    const todo = await app2.tasks({ todo: true });
    const mine = todo.items.find((t) => t.id === task.id)!;
    await app2.claim(mine);
    await app2.answer(mine, { status: "succeeded", body: "a" });
    await app1.results(task.id, { count: 1 });
  };
  const sequential = (operation: () => Promise<void>) => async (count: number) => {
    for (let i = 0; i < count; i++) await operation();
  };
  // Both sides' to-do lists stay short: every round trip answers its task.
  const count = Number(process.env.BENCH_COUNT ?? 1000);
  const results = await measure(
    [
      { name: "raw Node HTTP server, same map operations", run: sequential(() => restRoundTrip(raw.base)) },
      { name: "beamhub REST face (plain HTTP)", run: sequential(() => restRoundTrip(beamhubRest)) },
      { name: "beamhub TaskClient, in one process", run: sequential(apiRoundTrip) },
    ],
    count,
  );
  console.log(
    report(
      `task round trips (post, todo, claim, succeed, results), sequential, ${count} × 5 rounds, median`,
      results,
      "raw Node HTTP server, same map operations",
      "round trips/s",
    ),
  );

  // Long-poll wake-up: 1,000 pollers wait on 1,000 tasks; each answer is timed from just before
  // its PUT leaves to the poller's response.
  const pollers = 1000;
  const ids = await Promise.all(
    Array.from({ length: pollers }, async () => (await app1.post({ to: [APP2] })).id),
  );
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const waiting = ids.map(async (id) => {
    await http(beamhubRest, "GET", `/v1/tasks/${id}/results?wait_count=1&wait_time=60s`, APP1);
    latencies.push(performance.now() - sentAt.get(id)!);
  });
  while (broker.waiting < pollers) await new Promise((resolve) => setTimeout(resolve, 20));
  for (const id of ids) {
    sentAt.set(id, performance.now());
    await http(beamhubRest, "PUT", `/v1/tasks/${id}/results/${APP2}`, APP2, {
      from: APP2,
      to: [APP1],
      task: id,
      status: "succeeded",
      metadata: null,
    });
  }
  await Promise.all(waiting);
  latencies.sort((a, b) => a - b);
  console.log(
    `long-poll wake-up, ${pollers} waiting pollers over HTTP (PUT sent → poller answered): p50 ${percentile(latencies, 50).toFixed(2)} ms, p99 ${percentile(latencies, 99).toFixed(2)} ms, max ${latencies.at(-1)!.toFixed(2)} ms`,
  );

  await socketThroughput(broker, listener.port, app1, app2);

  raw.close();
  await listener.close();
  await broker.close();
  await hub.close();
  agent.destroy();
}

/** Writes `bytes` in 64 KiB chunks, waiting whenever the socket's buffer is full. */
async function pour(socket: Socket, bytes: number): Promise<void> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  for (let sent = 0; sent < bytes; sent += chunk.length) {
    if (!socket.write(chunk)) await once(socket, "drain");
  }
}

/** Counts what `socket` receives; `until(n)` resolves once n bytes in all have arrived. */
function counter(socket: Socket): { until: (total: number) => Promise<void> } {
  let received = 0;
  let waiting: { total: number; resolve: () => void } | undefined;
  socket.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (waiting !== undefined && received >= waiting.total) {
      waiting.resolve();
      waiting = undefined;
    }
  });
  return {
    until: (total) =>
      received >= total ? Promise.resolve() : new Promise((resolve) => (waiting = { total, resolve })),
  };
}

/** Sends one raw HTTP/1.1 request and resolves with the connection once the answer's head is read. */
async function upgrade(port: number, method: string, path: string, app: string): Promise<Socket> {
  const socket = connectTcp(port, "127.0.0.1");
  await once(socket, "connect");
  socket.write(
    `${method} ${path} HTTP/1.1\r\nhost: x\r\nauthorization: ApiKey ${app} ${KEY}\r\nupgrade: tcp\r\n\r\n`,
  );
  let head = Buffer.alloc(0);
  while (head.indexOf("\r\n\r\n") < 0)
    head = Buffer.concat([head, (await once(socket, "data"))[0] as Buffer]);
  if (!head.toString().startsWith("HTTP/1.1 101")) throw new Error(`no upgrade: ${head.toString()}`);
  return socket;
}

/**
 * Bytes/s one way through a socket pair: two upgraded HTTP connections joined by the hub
 * (`/v1/sockets`), the same with both ends in TypeScript (`TaskClient.socket`/`accept`, one
 * process), against a raw TCP relay (a Node server piping two accepted connections) — the floor
 * any relay pays. One pair each, reused by every round; MiB per round from BENCH_SOCKET_MIB.
 */
async function socketThroughput(
  broker: TaskBroker,
  port: number,
  app1: TaskClient,
  app2: TaskClient,
): Promise<void> {
  const relay = createTcpServer({ allowHalfOpen: true });
  const accepted: Socket[] = [];
  relay.on("connection", (socket) => {
    accepted.push(socket);
    if (accepted.length === 2) {
      accepted[0]!.pipe(accepted[1]!);
      accepted[1]!.pipe(accepted[0]!);
    }
  });
  await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
  const relayPort = (relay.address() as AddressInfo).port;
  const rawA = connectTcp(relayPort, "127.0.0.1");
  await once(rawA, "connect");
  const rawB = connectTcp(relayPort, "127.0.0.1");
  await once(rawB, "connect");
  while (accepted.length < 2) await new Promise((resolve) => setTimeout(resolve, 5));

  const asking = upgrade(port, "POST", `/v1/sockets/${APP2}`, APP1);
  const [task] = (await app2.socketTasks({ count: 1, timeMs: 10_000 })).items;
  const hubB = await upgrade(port, "GET", `/v1/sockets/${task!.id}`, APP2);
  const hubA = await asking;

  const streamAsking = app1.socket(APP2);
  const [streamTask] = (await app2.socketTasks({ count: 1, timeMs: 10_000 })).items;
  const streamB = await app2.accept(streamTask!);
  const streamA = await streamAsking;

  const mib = Number(process.env.BENCH_SOCKET_MIB ?? 64);
  const oneWay = (a: Socket, b: Socket) => {
    const received = counter(b);
    let total = 0;
    return async (count: number) => {
      total += count * 1024 * 1024;
      await Promise.all([pour(a, count * 1024 * 1024), received.until(total)]);
    };
  };
  const streams = (a: ByteStream, b: ByteStream) => {
    const writer = a.writable.getWriter();
    const reader = b.readable.getReader();
    const chunk = new Uint8Array(64 * 1024).fill(1);
    return async (count: number) => {
      const bytes = count * 1024 * 1024;
      const writing = (async () => {
        for (let sent = 0; sent < bytes; sent += chunk.length) await writer.write(chunk);
      })();
      for (let got = 0; got < bytes;) got += (await reader.read()).value!.length;
      await writing;
    };
  };
  const results = await measure(
    [
      { name: "raw TCP relay (Node, pipe)", run: oneWay(rawA, rawB) },
      { name: "beamhub /v1/sockets (two upgraded HTTP)", run: oneWay(hubA, hubB) },
      { name: "beamhub TaskClient.socket (one process)", run: streams(streamA, streamB) },
    ],
    mib,
  );
  console.log(
    report(
      `socket throughput, one way, ${mib} MiB per round, median`,
      results,
      "raw TCP relay (Node, pipe)",
      "MiB/s",
    ),
  );
  for (const socket of [rawA, rawB, hubA, hubB, ...accepted]) socket.destroy();
  streamA.reset();
  relay.close();
  while (broker.sockets.open > 0) await new Promise((resolve) => setTimeout(resolve, 10));
}

await main();
