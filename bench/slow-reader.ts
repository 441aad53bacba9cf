// A hub's memory when a peer stops reading (issue 11): a hub process on a Unix socket, and a
// raw client that sends and never reads — a flood of PINGs, of `list` requests, a call whose
// service sends channel events as fast as it can, a call whose service writes a byte stream.
// Prints the hub's RSS before and after each flood, and whether the hub closed the session.
//
//   npx tsx bench/slow-reader.ts            (SLOW_SECONDS=8 per scenario by default)
//   SLOW_ONLY=ping npx tsx bench/slow-reader.ts
//
// Runs against the tree it is in; the flooding client speaks only PROTOCOL.md bytes.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cborCodec } from "../codecs/index.js";
import { Ref } from "../codecs/reference.js";
import { encodeFrame, FrameType, withRequestId } from "../wire/frame.js";

const SECONDS = Number(process.env.SLOW_SECONDS ?? 8);
const ONLY = process.env.SLOW_ONLY === undefined ? undefined : new RegExp(process.env.SLOW_ONLY);

if (process.argv[2] === "hub") await serveHub(process.argv[3]!);
else if (process.argv[2] === "client") await frozenClient(process.argv[3]!);
else await main();

/**
 * A client process (the real one, connectUnix) that asks the hub's "events" service for events
 * and does not read them for SECONDS: prints its RSS before and after (the issue saw 73 -> 421 MB
 * for 200k unread 1 KiB events).
 */
async function frozenClient(path: string): Promise<void> {
  const { Channel, connectUnix } = await import("../index.js");
  const client = await connectUnix(path);
  globalThis.gc?.();
  const before = process.memoryUsage().rss;
  const [mine, theirs] = Channel.pair();
  await client.call("events", { events: theirs });
  await new Promise((resolve) => setTimeout(resolve, SECONDS * 1000));
  globalThis.gc?.();
  const after = process.memoryUsage().rss;
  let unread = 0;
  // What arrived and waits (the iterator yields what is queued without waiting for more).
  const timer = setTimeout(() => mine.close(), 200);
  for await (const _event of mine) unread++;
  clearTimeout(timer);
  process.stdout.write(`${JSON.stringify({ before, after, unread })}\n`);
  await client.close();
  process.exit(0);
}

/** The hub process: services for the floods, RSS on request (a line "rss" on stdin). */
async function serveHub(path: string): Promise<void> {
  const { Hub, listenUnix } = await import("../index.js");
  const hub = new Hub();
  // A `list` reply of 50 instances (~5 KiB).
  for (let i = 0; i < 50; i++) await hub.register(`svc.${i}`, () => null, { labels: { n: String(i) } });
  const payload = "x".repeat(1024);
  await hub.register("events", (data: { events: { send(d: unknown): Promise<void> } }) => {
    void (async () => {
      // Yields to the event loop now and then: a send that never waits would starve it.
      for (let i = 1; ; i++) {
        await data.events.send(payload);
        if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })().catch(() => undefined);
    return true;
  });
  await hub.register("stream", (data: { bytes: { writable: WritableStream<Uint8Array> } }) => {
    const writer = data.bytes.writable.getWriter();
    const chunk = new Uint8Array(64 * 1024);
    void (async () => {
      for (;;) await writer.write(chunk);
    })().catch(() => undefined);
    return true;
  });
  await listenUnix(hub, path, { limits: { slowConsumerTimeout: 5000 } as never });
  process.stdin.setEncoding("utf8");
  let buffered = "";
  process.stdin.on("data", (text: string) => {
    buffered += text;
    while (buffered.includes("\n")) {
      buffered = buffered.slice(buffered.indexOf("\n") + 1);
      globalThis.gc?.();
      process.stdout.write(`${process.memoryUsage().rss}\n`);
    }
  });
  process.stdin.on("end", () => process.exit(0));
  process.stdout.write("ready\n");
}

/** Starts a hub process on `path`; `rss()` asks it for its RSS (after a GC). */
async function startHub(path: string): Promise<{ rss: () => Promise<number>; stop: () => void }> {
  const child = spawn(
    process.execPath,
    ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "hub", path],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let rest = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (text: string) => {
    rest += text;
    let at: number;
    while ((at = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, at);
      rest = rest.slice(at + 1);
      const waiter = waiters.shift();
      if (waiter) waiter(line);
      else lines.push(line);
    }
  });
  const nextLine = (): Promise<string> =>
    lines.length > 0 ? Promise.resolve(lines.shift()!) : new Promise((resolve) => waiters.push(resolve));
  await nextLine(); // ready
  return {
    rss: async () => {
      child.stdin.write("rss\n");
      return Number(await nextLine());
    },
    stop: () => {
      child.stdin.end();
      setTimeout(() => child.kill("SIGKILL"), 2000).unref();
    },
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-slow-"));
  const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(0)} MB`;

  const scenarios: [string, (socket: net.Socket) => Promise<void>][] = [
    [
      "ping flood (200 MiB of PINGs)",
      (socket) =>
        flood(socket, () => encodeFrame(FrameType.PING, 0, new Uint8Array(8)), (200 * 1024 * 1024) / 20),
    ],
    [
      "list flood (8,000 list requests)",
      (socket) => {
        let id = 1;
        return flood(socket, () => request(id++, { op: "list", filter: {} }), 8000);
      },
    ],
    [
      "event flood (1 KiB events to a client that does not read)",
      (socket) =>
        send(socket, request(1, { op: "call", name: "events", data: { events: new Ref("channel", 1) } })),
    ],
    [
      "byte stream (64 KiB writes to a client that does not read)",
      (socket) =>
        send(socket, request(1, { op: "call", name: "stream", data: { bytes: new Ref("stream", 1) } })),
    ],
  ];
  console.log(
    `slow-reader bench: a raw client that never reads, ${SECONDS} s per scenario, node ${process.version}`,
  );
  let n = 0;
  for (const [name, run] of scenarios) {
    if (ONLY !== undefined && !ONLY.test(name)) continue;
    const path = join(dir, `hub-${n++}.sock`);
    const hub = await startHub(path);
    const rss = hub.rss;
    const before = await rss();
    const socket = net.connect(path);
    await new Promise((resolve) => socket.once("connect", resolve));
    socket.pause(); // never read
    let closed = false;
    socket.on("close", () => (closed = true));
    socket.on("error", () => undefined);
    socket.write(hello());
    const deadline = Date.now() + SECONDS * 1000;
    let peak = before;
    const sampler = setInterval(() => void rss().then((value) => (peak = Math.max(peak, value))), 250);
    await Promise.race([run(socket), new Promise((resolve) => setTimeout(resolve, SECONDS * 1000))]);
    while (Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    clearInterval(sampler);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const after = await rss();
    peak = Math.max(peak, after);
    // Only now read: has the hub ended the session (GOAWAY, or the socket closed)?
    const ended = closed || (await sessionEnded(socket));
    console.log(
      `  ${name.padEnd(60)} hub RSS ${mb(before)} -> peak ${mb(peak)} (+${mb(peak - before)}), session ${ended ? "closed by the hub" : "still open"}`,
    );
    socket.destroy();
    hub.stop();
  }
  if (ONLY === undefined || ONLY.test("client")) {
    const path = join(dir, "hub-client.sock");
    const hub = await startHub(path);
    const client = spawn(
      process.execPath,
      ["--expose-gc", "--import", "tsx", fileURLToPath(import.meta.url), "client", path],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    let output = "";
    client.stdout.setEncoding("utf8");
    client.stdout.on("data", (text: string) => (output += text));
    await new Promise((resolve) => client.once("exit", resolve));
    const { before, after, unread } = JSON.parse(output) as { before: number; after: number; unread: number };
    console.log(
      `  ${"client that does not read its events (real client)".padEnd(60)} client RSS ${mb(before)} -> ${mb(after)} (+${mb(after - before)}), ${unread} events waiting`,
    );
    hub.stop();
  }
  rmSync(dir, { recursive: true, force: true });
}

function hello(): Uint8Array {
  const json = {
    protocol: "beamhub",
    version: 1,
    codecs: ["cbor"],
    maxFrameSize: 16777216,
    streamWindow: 1048576,
    fds: false,
    eventWindow: 128,
  };
  return encodeFrame(FrameType.HELLO, 0, new TextEncoder().encode(JSON.stringify(json)));
}

function request(id: number, body: unknown): Uint8Array {
  return encodeFrame(
    FrameType.REQUEST,
    0,
    withRequestId(id, cborCodec.encode(body, { toRef: (v) => v as unknown as Ref, fromRef: (r) => r })),
  );
}

function send(socket: net.Socket, bytes: Uint8Array): Promise<void> {
  return new Promise((resolve) => {
    if (socket.write(bytes)) resolve();
    else socket.once("drain", resolve);
  });
}

/** Writes `count` frames (with the socket's own backpressure) unless it closes first. */
async function flood(socket: net.Socket, frame: () => Uint8Array, count: number): Promise<void> {
  let sent = 0;
  while (sent < count && !socket.destroyed) {
    const batch: Uint8Array[] = [];
    for (let i = 0; i < 256 && sent < count; i++, sent++) batch.push(frame());
    await send(socket, Buffer.concat(batch));
  }
}

/** Reads what the hub sent; true if the session ended (a GOAWAY, or the end of the stream) within 3 s. */
function sessionEnded(socket: net.Socket): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), 3000);
    let tail = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      tail = Buffer.concat([tail.subarray(-64), chunk]);
      if (tail.includes("ESLOW_CONSUMER")) {
        clearTimeout(timer);
        resolve(true);
      }
    });
    socket.on("close", () => {
      clearTimeout(timer);
      resolve(true);
    });
    socket.resume();
  });
}
