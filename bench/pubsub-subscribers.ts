// The subscriber side of bench/pubsub.ts, in a process of its own: N subscribers of one kind,
// each on its own connection. Reads commands on stdin, answers on stdout:
//   "expect K"  reset the counters; answers "armed" — then "done µs" once every subscriber got K,
//               with the CPU time (user + system, µs) this process spent on the round.
//   "quit"      closes everything and exits.
// Kinds: beamhub-unix PATH -|window=N | beamhub-ws URL CAFILE | ws URL CAFILE | nats URL - | raw PATH -;
// then the count and the channel. `raw` reads bench/pubsub-raw-server.ts's stream: u32 big-endian
// length prefixes, walked to count whole messages (the least a client must do to find them).
import { readFileSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { createInterface } from "node:readline";
import { connect as natsConnect } from "@nats-io/transport-node";
import { WebSocket } from "ws";
import { connectHttps, connectUnix, type HubClient } from "../index.js";

const [kind, where, extra, countText, channel] = process.argv.slice(2);
const COUNT = Number(countText ?? 100);
/** Each beamhub contender has a channel of its own on the one hub: none delivers to another's subscribers. */
const SUBJECT = channel ?? "bench";

let expected = Infinity;
/** Set on "quit": subscriptions that end from then on are meant to. */
let quitting = false;
/** CPU time of this process when the round was armed: "done" says how much the round took. */
let cpuAtArm = process.cpuUsage();
let finished = 0;
const received = new Array<number>(COUNT).fill(0);
const closers: (() => unknown)[] = [];

function got(index: number, n = 1): void {
  received[index]! += n;
  if (received[index] === expected) {
    finished++;
    if (finished === COUNT) {
      const { user, system } = process.cpuUsage(cpuAtArm);
      process.stdout.write(`done ${user + system}\n`);
    }
  }
}

/** A `raw` subscriber's reader: counts the whole messages of each chunk (a message may span chunks). */
function countRaw(index: number): (chunk: Buffer) => void {
  let partial: Buffer | undefined;
  return (chunk) => {
    const data = partial === undefined ? chunk : Buffer.concat([partial, chunk]);
    let at = 0;
    let messages = 0;
    while (at + 4 <= data.length) {
      const end = at + 4 + data.readUInt32BE(at);
      if (end > data.length) break;
      at = end;
      messages++;
    }
    partial = at < data.length ? data.subarray(at) : undefined;
    if (messages > 0) got(index, messages);
  };
}

async function start(): Promise<void> {
  for (let i = 0; i < COUNT; i++) {
    if (kind === "beamhub-unix" || kind === "beamhub-ws") {
      const hub: HubClient =
        kind === "beamhub-unix"
          ? await connectUnix(where!, {
              reconnect: false,
              // Keep-alive of 30 s, not 2 s: at load 20+ on 2 cores a starved process misses
              // pings and its sessions are closed, which stalls a round (not what is measured).
              keepAlive: 30_000,
              // "window=N": the subscribers' sessions announce an eventWindow of N (default 128).
              ...(extra?.startsWith("window=") ? { limits: { eventWindow: Number(extra.slice(7)) } } : {}),
            })
          : await connectHttps(where!, {
              ca: readFileSync(extra!, "utf8"),
              transport: "websocket",
              reconnect: false,
              // Keep-alive of 30 s, not 2 s: at load 20+ on 2 cores a starved process misses
              // pings and its sessions are closed, which stalls a round (not what is measured).
              keepAlive: 30_000,
            });
      // Backpressure, as conec's default: every subscriber gets every message.
      const subscription = hub.subscribe(SUBJECT, { history: false, lag: "wait" });
      await subscription.ready;
      void (async () => {
        for await (const _ of subscription) got(i);
        // Before "quit" this is a lost session (the round would wait for it forever): say so.
        if (!quitting) process.stderr.write(`${kind} subscriber ${i}: its subscription ended\n`);
      })();
      closers.push(() => hub.close());
    } else if (kind === "ws") {
      const socket = new WebSocket(where!, { perMessageDeflate: false, ca: readFileSync(extra!, "utf8") });
      await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
      socket.on("message", () => got(i));
      closers.push(() => socket.terminate());
    } else if (kind === "nats") {
      const nc = await natsConnect({ servers: where! });
      const subscription = nc.subscribe(SUBJECT);
      void (async () => {
        for await (const _ of subscription) got(i);
      })();
      await nc.flush();
      closers.push(() => nc.close());
    } else if (kind === "raw") {
      const socket = netConnect(where!);
      await new Promise((resolve, reject) => socket.once("connect", resolve).once("error", reject));
      socket.on("data", countRaw(i));
      closers.push(() => socket.destroy());
    } else throw new Error(`unknown kind ${kind}`);
  }
}

await start();
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  const [command, argument] = line.split(" ");
  if (command === "expect") {
    expected = Number(argument);
    finished = 0;
    received.fill(0);
    cpuAtArm = process.cpuUsage();
    process.stdout.write("armed\n");
  } else if (command === "status") {
    process.stderr.write(`${kind}: ${finished}/${COUNT} done, least received ${Math.min(...received)}\n`);
  } else if (command === "quit") break;
}
quitting = true;
await Promise.all(closers.map((close) => close()));
process.exit(0);
