// A Unix listener's connection caps, in total and per peer uid: one connection over a cap is
// refused with a typed reason (HELLO, then GOAWAY ELIMIT), reported once to the listener's log,
// and gives nothing up (no fd, no slot); the connections already open keep working. Real
// sockets, and a real process of another user (nobody) where this test runs as root.
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectUnix,
  Hub,
  InvalidArgumentError,
  listenUnix,
  ProtocolError,
  type RemoteHub,
  type UnixConnectionRefusal,
  type UnixListener,
} from "../../index.js";
import { FdSocket } from "../../fd/index.js";
import { encodeFrame, FrameType } from "../../wire/frame.js";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

const root = join(import.meta.dirname, "../..");
const isRoot = process.getuid?.() === 0;

let dir: string;
let hub: Hub;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-unix-limits-"));
  await chmod(dir, 0o755);
  hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

let serial = 0;

async function listen(options: Parameters<typeof listenUnix>[2]): Promise<{
  listener: UnixListener;
  refusals: UnixConnectionRefusal[];
}> {
  const refusals: UnixConnectionRefusal[] = [];
  const listener = await listenUnix(hub, join(dir, `hub-${serial++}.sock`), {
    mode: 0o666,
    onRefused: (refusal) => refusals.push(refusal),
    ...options,
  });
  cleanups.push(() => listener.close());
  return { listener, refusals };
}

async function client(listener: UnixListener): Promise<RemoteHub> {
  const connected = await connectUnix(listener.path);
  cleanups.push(() => connected.close());
  return connected;
}

/** Waits (bounded) until `check` holds, polling. */
async function eventually(check: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
    })(),
    3000,
    what,
  );
}

/** Frames as PROTOCOL.md lays them out: 12-byte header (length, type, flags, fds, id), payload. */
function splitFrames(bytes: Buffer): { type: number; payload: Buffer }[] {
  const frames: { type: number; payload: Buffer }[] = [];
  for (let at = 0; at + 12 <= bytes.length;) {
    const length = bytes.readUInt32BE(at);
    frames.push({ type: bytes[at + 4]!, payload: bytes.subarray(at + 12, at + 12 + length) });
    at += 12 + length;
  }
  return frames;
}

const openFds = (): number => readdirSync("/proc/self/fd").length;

describe("Unix connection caps", () => {
  it("refuse the connection over the total with GOAWAY ELIMIT, and admit again once one closes", async () => {
    const { listener, refusals } = await listen({ maxConnections: 2 });
    const first = await client(listener);
    const second = await client(listener);
    const fdsBefore = openFds();

    const refused = await connectUnix(listener.path).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProtocolError);
    expect(refused).toMatchObject({ code: "ELIMIT" });
    expect((refused as Error).message).toMatch(/too many connections: the hub has 2 Unix connections open/);
    expect(refusals).toEqual([
      expect.objectContaining({ limit: "total", uid: process.getuid!(), pid: process.pid }),
    ]);
    expect(refusals[0]!.message).toMatch(
      new RegExp(`^refused a Unix connection from uid ${process.getuid!()} \\(pid ${process.pid}\\): `),
    );
    // The refused socket is gone on both sides: no fd kept for it.
    await eventually(() => openFds() === fdsBefore, "the refused connection's fds to close");

    // The sessions that were in keep working, and a freed place is taken again.
    expect(await first.call("echo", "still here")).toBe("still here");
    await second.close();
    await eventually(() => listener.connections === 1, "the closed session to give its place back");
    const third = await client(listener);
    expect(await third.call("echo", 3)).toBe(3);
  });

  it("report a burst of refusals as a line a second with a count, not one line each", async () => {
    const { listener, refusals } = await listen({ maxConnections: 1 });
    await client(listener);
    const burst = await Promise.all(
      Array.from({ length: 30 }, () => connectUnix(listener.path).catch((error: unknown) => error)),
    );
    expect(burst.every((error) => (error as { code?: string }).code === "ELIMIT")).toBe(true);
    // At most one line per second (and this test is bounded well below 29 s); the rest are
    // counted into the next line.
    expect(refusals.length).toBeGreaterThanOrEqual(1);
    expect(refusals.length).toBeLessThan(30);
    expect(refusals[0]!.message).not.toMatch(/more refused/);
    expect(listener.connections).toBe(1);
  });

  it.skipIf(!isRoot)(
    "count per uid: this user is refused at its cap while another user gets in",
    async () => {
      const { listener, refusals } = await listen({ maxConnections: 10, maxConnectionsPerUid: 1 });
      await client(listener);
      await expect(connectUnix(listener.path)).rejects.toMatchObject({ code: "ELIMIT" });
      expect(refusals).toEqual([expect.objectContaining({ limit: "per-uid", uid: process.getuid!() })]);
      expect(refusals[0]!.message).toMatch(/the maximum per uid/);

      const child = spawn(
        process.execPath,
        [...nodeArgs(join(import.meta.dirname, "unix-peer.ts")), listener.path, 'echo="nobody"'],
        { cwd: root, uid: 65534, gid: 65534, stdio: ["ignore", "pipe", "pipe"] },
      );
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
      const code = await within(
        new Promise<number | null>((resolve) => child.once("exit", resolve)),
        15_000,
        "the other user's peer",
      ).catch((error: unknown) => {
        child.kill("SIGKILL");
        throw error;
      });
      expect(code).toBe(0);
      expect(JSON.parse(out.trim())).toEqual({ reply: "nobody" });
    },
  );

  it("answer a refused peer only after its HELLO, and cut off one that never says it", async () => {
    const { listener } = await listen({ maxConnections: 1 });
    await client(listener);
    // A peer that never says HELLO hears nothing and is cut off (its place was never taken).
    const silent = await FdSocket.connect(listener.path);
    const silentBytes: Buffer[] = [];
    silent.on("data", (data) => silentBytes.push(data));
    await within(
      new Promise((resolve) => silent.once("close", resolve)),
      5000,
      "the silent peer to be cut off",
    );
    expect(Buffer.concat(silentBytes)).toHaveLength(0);

    // One that says HELLO gets HELLO, then GOAWAY ELIMIT, then the end of the stream.
    const raw = await FdSocket.connect(listener.path);
    const bytes: Buffer[] = [];
    raw.on("data", (data) => bytes.push(data));
    const ended = new Promise<void>((resolve) => raw.once("end", () => resolve()));
    const hello = new TextEncoder().encode(
      JSON.stringify({
        protocol: "beamhub",
        version: 1,
        codecs: ["json"],
        maxFrameSize: 1024,
        streamWindow: 1024,
        fds: false,
      }),
    );
    raw.write(encodeFrame(FrameType.HELLO, 0, hello));
    await within(ended, 5000, "the refusal");
    raw.destroy();
    const frames = splitFrames(Buffer.concat(bytes));
    expect(frames.map((frame) => frame.type)).toEqual([FrameType.HELLO, FrameType.GOAWAY]);
    expect(JSON.parse(frames[0]!.payload.toString())).toMatchObject({ protocol: "beamhub", version: 1 });
    expect(JSON.parse(frames[1]!.payload.toString())).toEqual({
      code: "ELIMIT",
      message: expect.stringMatching(/^too many connections: /) as unknown,
    });
    expect(listener.connections).toBe(1);
  });

  it("refuse a cap that is not a whole number of connections, at listen time", async () => {
    await expect(listen({ maxConnections: 0 })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(listen({ maxConnectionsPerUid: 1.5 })).rejects.toThrow(
      /maxConnectionsPerUid must be a whole number/,
    );
  });
});
