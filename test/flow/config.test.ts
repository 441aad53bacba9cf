// Connection options are checked at construction (defaultConfig + verifyConfig, as yamux does):
// a bad local limit throws a typed error at once, before a byte is sent, instead of a HELLO
// the peer rejects. And `maxDataFrame` is honoured (it was read from the defaults).
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { ByteStream } from "../../model/byte-stream.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import { DEFAULT_CONFIG, verifyConfig } from "../../wire/config.js";
import { WireConnection, type ConnectionOptions } from "../../wire/connection.js";
import { ConnectionConfigError } from "../../wire/errors.js";
import { FrameType } from "../../wire/frame.js";
import { within } from "../compliance/suite.js";
import { helloFrame, RawPeer } from "./raw-peer.js";

describe("verifyConfig", () => {
  it("fills in every default", () => {
    const config = verifyConfig({ role: "client", codecs: [cborCodec] });
    expect(config).toMatchObject(DEFAULT_CONFIG);
  });

  it("allows fewer streams by default when their windows are larger", () => {
    expect(verifyConfig({ role: "server", codecs: [cborCodec] }).maxStreams).toBe(256);
    expect(
      verifyConfig({ role: "server", codecs: [cborCodec], streamWindow: 4 * 1024 * 1024 }).maxStreams,
    ).toBe(64);
    const explicit = {
      role: "server",
      codecs: [cborCodec],
      streamWindow: 4 * 1024 * 1024,
      maxStreams: 500,
    } as const;
    expect(verifyConfig(explicit).maxStreams).toBe(500);
  });

  const bad: [string, Partial<ConnectionOptions> | Record<string, unknown>, RegExp][] = [
    ["a zero stream limit", { maxStreams: 0 }, /maxStreams must be an integer from 1/],
    ["a fractional window", { streamWindow: 1500.5 }, /streamWindow/],
    ["a window below 1024", { streamWindow: 512 }, /streamWindow must be an integer from 1024/],
    ["a frame size over 2^32-1", { maxFrameSize: 2 ** 32 }, /maxFrameSize/],
    ["a string", { eventWindow: "128" }, /eventWindow .* got "128"/],
    ["NaN", { maxChannels: Number.NaN }, /maxChannels .* got NaN/],
    ["a BigInt", { maxPendingFds: 10n }, /maxPendingFds .* got 10/],
    ["a timeout past what timers take", { slowConsumerTimeout: 2 ** 31 }, /slowConsumerTimeout/],
    ["a DATA frame of 0 bytes", { maxDataFrame: 0 }, /maxDataFrame/],
    ["an unknown role", { role: "peer" }, /role must be "client" or "server"/],
    ["no codecs", { codecs: [] }, /codecs must be a non-empty list/],
    [
      "a budget that is no MemoryBudget",
      { memoryBudget: { limit: 5 } },
      /memoryBudget must be a MemoryBudget/,
    ],
  ];
  for (const [what, options, message] of bad) {
    it(`rejects ${what}`, () => {
      const attempt = () =>
        verifyConfig({ role: "client", codecs: [cborCodec], ...options } as ConnectionOptions);
      expect(attempt).toThrow(ConnectionConfigError);
      expect(attempt).toThrow(message);
    });
  }

  it("makes a WireConnection throw at construction, before anything is written", async () => {
    const [a, b] = socketPair();
    const socket = FdSocket.fromFd(a);
    const other = FdSocket.fromFd(b);
    try {
      expect(
        () =>
          new WireConnection(transportFor(socket), { role: "client", codecs: [cborCodec], maxStreams: -1 }),
      ).toThrow(expect.objectContaining({ code: "EINVALID_CONFIG" }));
      await new Promise((resolve) => setImmediate(resolve));
      expect(socket.stats.bytesSent).toBe(0);
    } finally {
      socket.destroy();
      other.destroy();
    }
  });
});

describe("maxDataFrame", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-config-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("cuts stream bytes into DATA frames of at most maxDataFrame", async () => {
    const path = join(dir, "data.sock");
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const connection = new WireConnection(transportFor(await FdSocket.connect(path)), {
      role: "client",
      codecs: [cborCodec],
      maxDataFrame: 1000,
    });
    const peer = new RawPeer(await accepted);
    server.close();
    try {
      peer.send(helloFrame());
      await connection.ready;
      const [mine, theirs] = ByteStream.pair();
      await connection.root.send({ bytes: theirs });
      const writer = mine.writable.getWriter();
      await writer.write(new Uint8Array(10_000).fill(7));
      await within(writer.close(), 3000, "the write");
      await peer.next((frame) => frame.type === FrameType.END, "END");
      const data = peer.frames.filter((frame) => frame.type === FrameType.DATA);
      expect(data.reduce((sum, frame) => sum + frame.payload.byteLength, 0)).toBe(10_000);
      expect(Math.max(...data.map((frame) => frame.payload.byteLength))).toBe(1000);
    } finally {
      connection.close();
      peer.close();
    }
  });
});
