// The WebSocket session transport alone (transports/http2/websocket-transport.ts over `ws`),
// without TLS, sessions or the hub: what it costs to move a batch of frames through it. Two
// transports over a loopback `ws` connection in this process:
//   echo   100 batches in flight, each three chunks (9 + 64 + 7 B, joined into one message),
//          echoed by the other end: round trips per second and CPU time per round trip;
//   bulk   batches of 4 x 64 KiB (sent as fragments, no copy) one way, with backpressure:
//          bytes per second and CPU time per KiB.
// On a busy machine compare CPU time per operation (process.cpuUsage), in runs alternated with
// the other side of the comparison: the rates follow whatever else runs, the CPU time less.
//
//   npx tsx bench/websocket-transport.ts     (BENCH_SECONDS=1 BENCH_ROUNDS=7 by default)
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { webSocketTransport } from "../transports/http2/websocket-transport.js";
import { wsSocketPort } from "../transports/http2/ws-socket-port.js";
import type { AbortableTransport } from "../wire/keep-alive.js";
import { median } from "./harness.js";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 1);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const IN_FLIGHT = 100;

interface Pair {
  client: AbortableTransport;
  server: AbortableTransport;
  close(): Promise<void>;
}

async function pair(): Promise<Pair> {
  const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise((resolve) => wss.once("listening", resolve));
  const accepted = new Promise<WebSocket>((resolve) => wss.once("connection", resolve));
  const socket = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`, {
    perMessageDeflate: false,
    // As beamhub's Node client (connect-websocket.ts): no XOR over every byte.
    generateMask: (mask: Buffer) => mask.fill(0),
  });
  await new Promise((resolve) => socket.once("open", resolve));
  return {
    client: webSocketTransport(wsSocketPort(socket)),
    server: webSocketTransport(wsSocketPort(await accepted)),
    close: async () => {
      socket.terminate();
      await new Promise((resolve) => wss.close(resolve));
    },
  };
}

/** Runs for SECONDS; returns operations per second and CPU ns per unit (`units()` counts them). */
async function timed(units: () => number): Promise<[perSecond: number, cpuNsPerUnit: number]> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  const before = units();
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  const done = units() - before;
  const used = process.cpuUsage(cpu);
  return [done / ((performance.now() - start) / 1000), ((used.user + used.system) * 1000) / done];
}

async function echo(): Promise<[number, number]> {
  const { client, server, close } = await pair();
  const batch = [new Uint8Array(9), new Uint8Array(64), new Uint8Array(7)];
  server.start({ data: (chunk) => server.write([chunk], []), closed: () => undefined });
  let replies = 0;
  client.start({
    data: () => {
      replies++;
      client.write(batch, []);
    },
    closed: () => undefined,
  });
  for (let i = 0; i < IN_FLIGHT; i++) client.write(batch, []);
  const result = await timed(() => replies);
  await close();
  return result;
}

async function bulk(): Promise<[number, number]> {
  const { client, server, close } = await pair();
  const chunk = new Uint8Array(64 * 1024);
  let bytes = 0;
  server.start({ data: (data) => (bytes += data.byteLength), closed: () => undefined });
  let stopped = false;
  const pump = (): void => {
    while (!stopped) if (client.write([chunk, chunk, chunk, chunk], []) === false) return;
  };
  client.start({ data: () => undefined, closed: () => undefined, drain: pump });
  setImmediate(pump);
  const [rate, cpuPerByte] = await timed(() => bytes);
  stopped = true;
  await close();
  return [rate, cpuPerByte * 1024];
}

const samples = { echo: [[], []] as number[][], bulk: [[], []] as number[][] };
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of [
    ["echo", echo],
    ["bulk", bulk],
  ] as const) {
    const [rate, cpu] = await run();
    samples[name][0]!.push(rate);
    samples[name][1]!.push(cpu);
  }
}
console.log(`websocket transport: ${ROUNDS} rounds x ${SECONDS} s, node ${process.version}, medians`);
console.log(
  `  echo  ${Math.round(median(samples.echo[0]!)).toLocaleString("en-US")} round trips/s, ${Math.round(median(samples.echo[1]!)).toLocaleString("en-US")} ns CPU each`,
);
console.log(
  `  bulk  ${(median(samples.bulk[0]!) / 1e9).toFixed(2)} GB/s, ${Math.round(median(samples.bulk[1]!)).toLocaleString("en-US")} ns CPU per KiB`,
);
