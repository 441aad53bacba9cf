// The raw Node fan-out of bench/pubsub.ts: the smallest pub/sub server Node can run over Unix
// sockets, as the bound any Node hub works under on this machine. One publisher connection
// sends length-prefixed messages (u32 big-endian length, then the bytes); the server walks the
// prefixes to find whole messages (the least a server must look at to route), and at the end of
// the turn writes to every subscriber connection once. Two modes:
//   relay  the bytes that came in, one buffer shared by every subscriber: no work per delivery
//          at all, a byte relay (what no hub can be: a hub frames each delivery for its session)
//   copy   each message copied into each subscriber's own batch (a 64 KiB slab per subscriber
//          per turn): the work per delivery a hub cannot avoid, and nothing else
// No channels, no sender tag, no sequence numbers, no history, no per-subscriber queue — a
// subscriber that cannot keep up pauses the publisher (as `lag: "wait"` does).
//
//   npx tsx bench/pubsub-raw-server.ts relay|copy PUBLISH_SOCKET SUBSCRIBE_SOCKET   → "ready"
//
// Ends on "quit" on stdin (or when stdin closes).
import { createServer, type Server, type Socket } from "node:net";
import { createInterface } from "node:readline";

const [mode, publishPath, subscribePath] = process.argv.slice(2);
if ((mode !== "relay" && mode !== "copy") || publishPath === undefined || subscribePath === undefined) {
  throw new Error("usage: pubsub-raw-server.ts relay|copy PUBLISH_SOCKET SUBSCRIBE_SOCKET");
}
const SLAB = 64 * 1024;

const subscribers = new Set<Socket>();
/** Whole messages read this turn, as they came (slices of the publisher's chunks). */
let pending: Buffer[] = [];
let flushing = false;
/** Bytes of a message whose end has not arrived yet. */
let partial: Buffer | undefined;
/** Subscribers whose socket buffer is full: the publisher is paused until they drain. */
let full = 0;
const publishers = new Set<Socket>();

function flush(): void {
  flushing = false;
  const chunks = pending;
  pending = [];
  if (mode === "relay") {
    const batch = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
    for (const subscriber of subscribers) write(subscriber, batch);
  } else for (const subscriber of subscribers) copyTo(subscriber, chunks);
  if (full > 0) for (const publisher of publishers) publisher.pause();
}

/** Copies every message of `chunks` into `subscriber`'s batch, one by one, and writes it. */
function copyTo(subscriber: Socket, chunks: Buffer[]): void {
  let slab = Buffer.allocUnsafe(SLAB);
  let used = 0;
  for (const chunk of chunks) {
    for (let at = 0; at < chunk.length;) {
      const end = at + 4 + chunk.readUInt32BE(at);
      if (used + end - at > slab.length) {
        write(subscriber, slab.subarray(0, used));
        slab = Buffer.allocUnsafe(Math.max(SLAB, end - at));
        used = 0;
      }
      used += chunk.copy(slab, used, at, end);
      at = end;
    }
  }
  if (used > 0) write(subscriber, slab.subarray(0, used));
}

function write(subscriber: Socket, bytes: Buffer): void {
  if (subscriber.write(bytes)) return;
  full++;
  subscriber.once("drain", () => {
    if (--full === 0) for (const publisher of publishers) publisher.resume();
  });
}

function onPublisher(publisher: Socket): void {
  publishers.add(publisher);
  publisher.on("close", () => publishers.delete(publisher));
  publisher.on("error", () => publisher.destroy());
  publisher.on("data", (chunk: Buffer) => {
    const data = partial === undefined ? chunk : Buffer.concat([partial, chunk]);
    let at = 0;
    while (at + 4 <= data.length) {
      const end = at + 4 + data.readUInt32BE(at);
      if (end > data.length) break;
      at = end;
    }
    partial = at < data.length ? data.subarray(at) : undefined;
    if (at === 0) return;
    pending.push(at === data.length ? data : data.subarray(0, at));
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  });
}

function onSubscriber(subscriber: Socket): void {
  subscribers.add(subscriber);
  subscriber.on("close", () => subscribers.delete(subscriber));
  subscriber.on("error", () => subscriber.destroy());
  subscriber.resume(); // subscribers send nothing
}

function listen(path: string, onConnection: (socket: Socket) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer(onConnection);
    server.once("error", reject).listen(path, () => resolve(server));
  });
}

const servers = [await listen(publishPath, onPublisher), await listen(subscribePath, onSubscriber)];
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) if (line === "quit") break;
for (const socket of [...publishers, ...subscribers]) socket.destroy();
await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
process.exit(0);
