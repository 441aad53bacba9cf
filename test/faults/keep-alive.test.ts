// The session keep-alive itself (wire/keep-alive.ts), over real Unix sockets: it probes an idle
// session and keeps it up, costs nothing when turned off, never counts this process's own
// stalls against its peers, tolerates a peer's stall shorter than its documented margin, checks
// its configuration up front; and a hub drops a connection that never sends its HELLO.
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec, jsonCodec } from "../../codecs/index.js";
import { connectHttps, Hub, InvalidArgumentError, listenHttps } from "../../index.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { connectUnix, listenUnix, type UnixListener } from "../../hub/remote/unix.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import { openSession } from "../../wire/open-session.js";
import { killAll, startChild, within } from "./processes.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
const FAST_MS = 100;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-keepalive-"));
  hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  listener = await listenUnix(hub, join(dir, "hub.sock"), { keepAlive: FAST_MS, handshakeTimeout: 300 });
});

afterAll(async () => {
  await killAll();
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Two sessions joined by a socketpair, with their sockets (to read their byte counters). */
async function sessionPair(keepAlive: number) {
  const [a, b] = socketPair();
  const sockets = [FdSocket.fromFd(a), FdSocket.fromFd(b)] as const;
  const client = openSession(transportFor(sockets[0]), {
    role: "client",
    codecs: [cborCodec, jsonCodec],
    keepAlive,
  });
  const server = openSession(transportFor(sockets[1]), {
    role: "server",
    codecs: [cborCodec, jsonCodec],
    keepAlive,
  });
  server.connection.root.handle((data) => data);
  await within(Promise.all([client.connection.ready, server.connection.ready]), 3000, "the handshake");
  return { client: client.connection, server: server.connection, sockets };
}

describe("an idle session", () => {
  it("is probed with PINGs and stays up", async () => {
    const { client, server, sockets } = await sessionPair(FAST_MS);
    const sent = sockets[0].stats.bytesSent + sockets[1].stats.bytesSent;
    await sleep(15 * FAST_MS);
    expect(client.isClosed || server.isClosed).toBe(false);
    // Only PINGs and PONGs (12-byte headers with 8-byte payloads) went over the wire meanwhile.
    const probes = sockets[0].stats.bytesSent + sockets[1].stats.bytesSent - sent;
    expect(probes).toBeGreaterThan(0);
    expect(probes % 20).toBe(0);
    expect(await within(client.root.request("still here"), 3000, "a request")).toBe("still here");
    client.close();
    await within(server.closed, 3000, "the server side to close");
  });

  it("carries nothing at all with the keep-alive off (0)", async () => {
    const { client, server, sockets } = await sessionPair(0);
    const sent = sockets[0].stats.bytesSent + sockets[1].stats.bytesSent;
    await sleep(5 * FAST_MS);
    expect(sockets[0].stats.bytesSent + sockets[1].stats.bytesSent).toBe(sent);
    expect(await within(client.root.request("quiet"), 3000, "a request")).toBe("quiet");
    client.close();
    await within(server.closed, 3000, "the server side to close");
  });
});

describe("stalls", () => {
  it("a stall of this process (far beyond the bound) does not count against its peers", async () => {
    const remote = await connectUnix(listener.path, { keepAlive: FAST_MS });
    expect(await remote.call("echo", 1)).toBe(1);
    // Both the hub's and the client's ends live in this process: both stall for 10x the interval.
    const until = performance.now() + 10 * FAST_MS;
    while (performance.now() < until) {
      // blocked
    }
    expect(await within(remote.call("echo", 2), 3000, "a call after the stall")).toBe(2);
    expect(remote.connection.isClosed).toBe(false);
    await remote.close();
  });

  it("a peer that stalls for less than its margin (1.25x the interval) is kept", async () => {
    const interval = 1000;
    const stallingHub = new Hub();
    const stallingListener = await listenUnix(stallingHub, join(dir, "stalling.sock"), {
      keepAlive: interval,
    });
    try {
      const peer = await startChild(join(import.meta.dirname, "fixtures", "stalling-peer.ts"), [
        stallingListener.path,
        String(interval),
      ]);
      // Idle first, so that the hub's last word from the peer is a PONG, then a stall of half
      // the interval: well inside the 1.25x margin however the probes fall.
      await sleep(interval);
      expect(await within(stallingHub.call("stall", interval / 2), 10_000, "the stalling call")).toBe(
        "alive",
      );
      await sleep(interval);
      expect(await within(stallingHub.call("stall", 0), 10_000, "a call after the stall")).toBe("alive");
      expect(peer.lines).not.toContainEqual(expect.stringMatching(/^closed/));
      await peer.kill();
    } finally {
      await stallingListener.close();
      await stallingHub.close();
    }
  });
});

describe("a stall of this process against a peer in another process", () => {
  it("a 3 s busy-wait (6x the interval, 3x the dead bound) drops no live peer; a frozen one is still dropped", async () => {
    const interval = 500;
    const stallingHub = new Hub();
    const stallingListener = await listenUnix(stallingHub, join(dir, "busy.sock"), { keepAlive: interval });
    const peer = await startChild(join(import.meta.dirname, "fixtures", "stalling-peer.ts"), [
      stallingListener.path,
      "0", // the peer judges nobody: only this side's verdict is tested
    ]);
    try {
      expect(await within(stallingHub.call("stall", 0), 10_000, "a call before the stall")).toBe("alive");
      const sessions = stallingHub.sessionsInfo().length;
      const until = performance.now() + 3000;
      while (performance.now() < until) {
        // blocked: no timers, no I/O, as a hub whose loop is stuck or starved
      }
      expect(await within(stallingHub.call("stall", 0), 10_000, "a call after the stall")).toBe("alive");
      expect(stallingHub.sessionsInfo()).toHaveLength(sessions);
      // A peer that truly stops is still dropped: within 2.25x the interval after its last
      // bytes by the design; waited for with a generous bound (this machine is loaded).
      peer.freeze();
      const frozenAt = performance.now();
      await within(
        (async () => {
          while (stallingHub.sessionsInfo().length === sessions) await sleep(20);
        })(),
        10_000,
        "the frozen peer's session to be dropped",
      );
      console.log(
        `frozen peer dropped after ${Math.round(performance.now() - frozenAt)} ms (bound ${2.25 * interval} ms after its last bytes)`,
      );
    } finally {
      peer.thaw();
      await peer.kill();
      await stallingListener.close();
      await stallingHub.close();
    }
  });
});

describe("configuration and handshake", () => {
  it("refuses a bad interval when listening or connecting, naming it", async () => {
    await expect(listenUnix(hub, join(dir, "bad.sock"), { keepAlive: -1 })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(connectUnix(listener.path, { keepAlive: 1.5 })).rejects.toThrow(
      /keepAlive must be a whole number/,
    );
    await expect(listenHttps(hub, { port: 0, keepAlive: Number.NaN })).rejects.toThrow(InvalidArgumentError);
    await expect(connectUnix(listener.path, { connectTimeout: 0 })).rejects.toThrow(/connectTimeout/);
    // Checked before anything is opened: nothing to leak.
    await expect(connectHttps("https://127.0.0.1:1", { keepAlive: -5 })).rejects.toThrow(
      InvalidArgumentError,
    );
  });

  it("the hub drops a Unix connection that never sends its HELLO (handshakeTimeout)", async () => {
    const socket = connect(listener.path);
    socket.on("error", () => undefined);
    socket.on("data", () => undefined);
    await within(
      new Promise((resolve) => socket.once("close", resolve)),
      5000,
      "the hub to drop the silent connection",
    );
  });
});
