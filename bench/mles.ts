/**
 * The Mles face: fan-out of one Mles member's frames to N members over wss://, against a minimal
 * raw `ws` broadcast server on the same kind of TLS listener (a loop over the other clients, the
 * floor any WebSocket fan-out pays), in one run; then the time for a joiner to receive 200
 * frames of history, and the hub's memory per idle member. Clients run in this process too,
 * for both contenders alike. The publisher sends in windows of 100 frames and waits for every
 * member to have them (a chat does not outrun its readers; both contenders are paced alike).
 *
 *   npx tsx bench/mles.ts [members=20]
 */
import { createServer } from "node:https";
import { Hub, listenHttps, MlesFace } from "../index.js";
import type { PubSub } from "../index.js";
import { createDevCertificate } from "../transports/http2/dev-certificate.js";
import WebSocket, { WebSocketServer } from "ws";
import { measure, median, report } from "./harness.js";

const MEMBERS = Number(process.argv[2] ?? 20);
const WINDOW = 100;
const FRAME = "x".repeat(64);

interface Room {
  url: string;
  ca: string;
  close(): Promise<void>;
}

function open(url: string, ca: string): Promise<WebSocket> {
  const ws = new WebSocket(url, "mles-websocket", { ca });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

/** N receivers and one sender in `room`: `run(count)` sends count frames, windowed. */
async function fanOut(room: Room, header: (uid: string) => string | undefined) {
  const sender = await open(room.url, room.ca);
  const receivers = await Promise.all(Array.from({ length: MEMBERS }, () => open(room.url, room.ca)));
  let received = 0;
  let wake: (() => void) | undefined;
  for (const [index, receiver] of receivers.entries()) {
    const join = header(`r${index}`);
    if (join !== undefined) receiver.send(join);
    receiver.on("message", () => {
      received++;
      if (wake !== undefined && received >= target) wake();
    });
  }
  const senderJoin = header("sender");
  if (senderJoin !== undefined) sender.send(senderJoin);
  await new Promise((resolve) => setTimeout(resolve, 300)); // joins settle
  received = 0;
  let target = 0;
  return {
    async run(count: number) {
      for (let sent = 0; sent < count; sent += WINDOW) {
        const batch = Math.min(WINDOW, count - sent);
        target += batch * MEMBERS;
        for (let i = 0; i < batch; i++) sender.send(FRAME);
        if (received < target) await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    close() {
      for (const ws of [sender, ...receivers]) ws.terminate();
    },
  };
}

async function mlesRoom(): Promise<Room & { face: MlesFace; pubsub: PubSub }> {
  const hub = new Hub();
  const pubsub = hub.pubsub;
  const face = new MlesFace(hub, { maxFramesPerSecond: 0, history: 200 });
  const listener = await listenHttps(hub, { otherUpgrades: face.upgrade, maxConnectionsPerAddress: 2000 });
  return {
    url: listener.url.replace("https:", "wss:"),
    ca: listener.certificate,
    face,
    pubsub,
    async close() {
      await face.close();
      await listener.close();
      await hub.close();
    },
  };
}

async function rawRoom(): Promise<Room> {
  const { cert, key } = await createDevCertificate();
  const server = createServer({ cert, key, minVersion: "TLSv1.3" });
  const wss = new WebSocketServer({ server, perMessageDeflate: false });
  wss.on("connection", (ws) => {
    ws.on("message", (data, binary) => {
      for (const client of wss.clients) if (client !== ws) client.send(data, { binary });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `wss://127.0.0.1:${(server.address() as { port: number }).port}`,
    ca: cert.toString(),
    async close() {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const mles = await mlesRoom();
const raw = await rawRoom();
const mlesFan = await fanOut(mles, (uid) => JSON.stringify({ uid, channel: "bench" }));
const rawFan = await fanOut(raw, () => undefined);
const results = await measure(
  [
    { name: `Mles face, 1 -> ${MEMBERS} members`, run: (count) => mlesFan.run(count) },
    { name: `raw ws broadcast, 1 -> ${MEMBERS}`, run: (count) => rawFan.run(count) },
  ],
  2000,
);
// Frames delivered per second = frames sent per second × members.
console.log(
  report(
    `fan-out over wss://, 64 B text frames, windows of ${WINDOW} (frames delivered/s)`,
    results.map((result) => ({
      ...result,
      opsPerSecond: result.opsPerSecond * MEMBERS,
      samples: result.samples.map((s) => s * MEMBERS),
    })),
    `raw ws broadcast, 1 -> ${MEMBERS}`,
    "frames/s",
  ),
);
mlesFan.close();
rawFan.close();

// Join with 200 frames of history: from the header sent to the 200th frame received.
const joins: number[] = [];
for (let round = 0; round < 30; round++) {
  const ws = await open(mles.url, mles.ca);
  const started = process.hrtime.bigint();
  let got = 0;
  await new Promise<void>((resolve) => {
    ws.on("message", () => {
      if (++got === 200) resolve();
    });
    ws.send(JSON.stringify({ uid: `joiner${round}`, channel: "bench" }));
  });
  joins.push(Number(process.hrtime.bigint() - started) / 1e6);
  ws.terminate();
}
joins.sort((a, b) => a - b);
console.log(
  `\njoin with 200 frames of history: p50 ${median(joins).toFixed(1)} ms, p99 ${joins[Math.floor(joins.length * 0.99)]!.toFixed(1)} ms (30 joins)`,
);

// Memory per idle member: 500 members joined to one channel.
globalThis.gc?.();
const before = process.memoryUsage();
const idle = await Promise.all(Array.from({ length: 500 }, () => open(mles.url, mles.ca)));
idle.forEach((ws, index) => ws.send(JSON.stringify({ uid: `idle${index}`, channel: "idle" })));
while (mles.face.memberCount("idle") < 500) await new Promise((resolve) => setTimeout(resolve, 50));
globalThis.gc?.();
const after = process.memoryUsage();
console.log(
  `memory for 500 idle members (clients in the same process, so an upper bound): ` +
    `heap +${((after.heapUsed - before.heapUsed) / 500 / 1024).toFixed(1)} KiB/member, ` +
    `rss +${((after.rss - before.rss) / 500 / 1024).toFixed(1)} KiB/member`,
);
for (const ws of idle) ws.terminate();
await mles.close();
await raw.close();
