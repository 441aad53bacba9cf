// A peer that stops reading must not grow the hub (issue 11: 200 MiB of PINGs whose PONGs went
// unread took a hub from 74 to 294 MB; a frozen client receiving events grew it linearly). The
// hub runs in a process of its own; the bounds on its RSS are generous (tens of MB where the
// old hub grew by the size of the flood), and nothing here measures time.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { connect as http2Connect } from "node:http2";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { encodeFrame, FrameType } from "../../wire/frame.js";
import { within } from "../compliance/suite.js";
import { helloFrame, messageFrame, Ref } from "./raw-peer.js";
import { nodeArgs } from "../helpers/programs.js";

const MB = 1024 * 1024;
/** What the flood would cost the hub if it answered it all: 20 MB of PONGs per 20 MB of PINGs. */
const FLOOD_BYTES = 96 * MB;
/** Growth of the hub's RSS allowed under a flood (the hub stops reading at ~1 MiB unsent). */
const BOUND = 40 * MB;

let hub: ChildProcessWithoutNullStreams;
let where: { path: string; url: string; certificate: string };
const lines: string[] = [];
const waiting: ((line: string) => void)[] = [];

beforeAll(async () => {
  hub = spawn(process.execPath, ["--expose-gc", ...nodeArgs(join(import.meta.dirname, "hub-process.ts"))], {
    stdio: "pipe",
  });
  hub.stderr.pipe(process.stderr);
  let rest = "";
  hub.stdout.setEncoding("utf8");
  hub.stdout.on("data", (text: string) => {
    rest += text;
    let at: number;
    while ((at = rest.indexOf("\n")) >= 0) {
      const line = rest.slice(0, at);
      rest = rest.slice(at + 1);
      const waiter = waiting.shift();
      if (waiter !== undefined) waiter(line);
      else lines.push(line);
    }
  });
  where = JSON.parse(await nextLine("the hub to start", 20_000));
}, 30_000);

afterAll(async () => {
  const exited = new Promise((resolve) => hub.once("exit", resolve));
  hub.stdin.end();
  const timer = setTimeout(() => hub.kill("SIGKILL"), 3000);
  await exited;
  clearTimeout(timer);
});

function nextLine(what: string, ms = 5000): Promise<string> {
  if (lines.length > 0) return Promise.resolve(lines.shift()!);
  return within(new Promise((resolve) => waiting.push(resolve)), ms, what);
}

async function hubRss(): Promise<number> {
  hub.stdin.write("rss\n");
  return Number(await nextLine("the hub's RSS"));
}

const ping = encodeFrame(FrameType.PING, 0, new Uint8Array(8));
/** 256 PINGs in one buffer. */
const pings = Buffer.concat(Array.from({ length: 256 }, () => ping));

/**
 * Writes PINGs through `write` (which resolves when the transport took them) until FLOOD_BYTES
 * went out, the session ended, or a write waited 1.5 s: a hub that stopped reading holds us there.
 */
async function flood(write: (bytes: Buffer) => Promise<void>, ended: () => boolean): Promise<number> {
  let sent = 0;
  while (sent < FLOOD_BYTES && !ended()) {
    const took = await Promise.race([
      write(pings).then(() => true),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1500)),
    ]);
    if (!took) break;
    sent += pings.length;
  }
  return sent;
}

/** Resolves once `ended()` is true (polled), within `ms`. */
function endedWithin(ended: () => boolean, ms: number, what: string): Promise<void> {
  return within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (ended()) resolve();
        else setTimeout(check, 50);
      };
      check();
    }),
    ms,
    what,
  );
}

describe("a peer that does not read", () => {
  it("Unix: a PING flood leaves the hub's memory bounded, and the hub closes the session", async () => {
    const before = await hubRss();
    const socket = net.connect(where.path);
    socket.on("error", () => undefined);
    let closed = false;
    socket.on("close", () => (closed = true));
    await within(new Promise((resolve) => socket.once("connect", resolve)), 3000, "connect");
    socket.pause();
    socket.write(helloFrame());
    await flood(
      (bytes) => new Promise((resolve) => (socket.write(bytes) ? resolve() : socket.once("drain", resolve))),
      () => closed,
    );
    const peak = await hubRss();
    expect(peak - before).toBeLessThan(BOUND);
    // The hub gave up on us (slowConsumerTimeout 1 s in hub-process.ts): the socket ends.
    socket.resume();
    await endedWithin(() => closed, 10_000, "the hub to close the session");
    socket.destroy();
  }, 30_000);

  it("Unix: events from a service to a client that does not read leave the hub bounded", async () => {
    const before = await hubRss();
    const socket = net.connect(where.path);
    socket.on("error", () => undefined);
    await within(new Promise((resolve) => socket.once("connect", resolve)), 3000, "connect");
    socket.pause();
    socket.write(helloFrame({ eventWindow: 64 }));
    const call = { op: "call", name: "events", data: { events: new Ref("channel", 1) } };
    socket.write(messageFrame(FrameType.REQUEST, 0, call, 1));
    // Give the service time to send what it can (without credit: ~100 MB/s into the hub).
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const after = await hubRss();
    expect(after - before).toBeLessThan(BOUND);
    socket.destroy();
  }, 30_000);

  it("HTTP/2: a PING flood leaves the hub's memory bounded, and the hub closes the session", async () => {
    const before = await hubRss();
    const session = http2Connect(where.url, { ca: where.certificate });
    session.on("error", () => undefined);
    const stream = session.request(
      { ":method": "POST", ":path": "/beamhub/v1/session", "content-type": "application/beamhub" },
      { endStream: false },
    );
    stream.on("error", () => undefined);
    let closed = false;
    stream.on("close", () => (closed = true));
    stream.pause();
    stream.write(helloFrame());
    await flood(
      (bytes) => new Promise((resolve) => (stream.write(bytes) ? resolve() : stream.once("drain", resolve))),
      () => closed,
    );
    const peak = await hubRss();
    expect(peak - before).toBeLessThan(BOUND);
    stream.resume();
    await endedWithin(() => closed, 10_000, "the hub to close the session");
    session.destroy();
  }, 30_000);

  it("WebSocket: a PING flood leaves the hub's memory bounded, and the hub closes the session", async () => {
    const before = await hubRss();
    const url = `${where.url.replace("https:", "wss:")}/beamhub/v1/ws`;
    const socket = new WebSocket(url, ["beamhub.v1"], {
      ca: where.certificate,
      ALPNProtocols: ["http/1.1"],
    } as ConstructorParameters<typeof WebSocket>[2]);
    socket.on("error", () => undefined);
    let closed = false;
    socket.on("close", () => (closed = true));
    await within(new Promise((resolve) => socket.once("open", resolve)), 5000, "the WebSocket");
    socket.pause();
    socket.send(helloFrame());
    await flood(
      (bytes) =>
        new Promise((resolve) => {
          socket.send(bytes, { binary: true });
          // ws buffers without limit: wait while its socket holds more than 1 MiB.
          const check = (): void => {
            if (socket.bufferedAmount < MB || closed) resolve();
            else setTimeout(check, 5);
          };
          check();
        }),
      () => closed,
    );
    const peak = await hubRss();
    expect(peak - before).toBeLessThan(BOUND);
    socket.resume();
    await endedWithin(() => closed, 10_000, "the hub to close the session");
    socket.terminate();
  }, 30_000);
});
