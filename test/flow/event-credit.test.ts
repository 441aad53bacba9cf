// Channel events carry message credit on the wire (PROTOCOL.md "Channel events"): a sender
// whose receiver does not read is slowed — its send() waits — instead of being buffered at the
// receiver without bound. Peers of before the credit (no eventWindow in HELLO) keep working.
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { ByteStream } from "../../model/byte-stream.js";
import { Channel } from "../../model/channel.js";
import { FdSocket } from "../../fd/index.js";
import { transportFor } from "../../transports/unix/unix-transport.js";
import { WireConnection } from "../../wire/connection.js";
import { FrameType, readU32 } from "../../wire/frame.js";
import { MemoryBudget } from "../../wire/memory-budget.js";
import { within } from "../compliance/suite.js";
import { sessionPair } from "./pair.js";
import { bodyOf, helloFrame, messageFrame, RawPeer } from "./raw-peer.js";

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("channel event credit between two sessions", () => {
  it("holds a fast sender at the receiver's window, then delivers every event in order", async () => {
    const pair = await sessionPair({ eventWindow: 16 }, { eventWindow: 16 });
    try {
      // The client hands the server a channel end; the server floods it, the client does not read.
      const [mine, theirs] = Channel.pair({ highWaterMark: 8 });
      await pair.client.root.send({ events: theirs });
      const iterator = pair.server.root[Symbol.asyncIterator]();
      const received = (await within(iterator.next(), 3000, "the channel")).value!;
      const sender = (received.data as { events: Channel }).events;
      const total = 5000;
      let accepted = 0;
      const sends: Promise<void>[] = [];
      for (let i = 0; i < total; i++) sends.push(sender.send(i).then(() => void accepted++));
      await settle(300);
      // Held back: at most the wire window (16) twice over (in flight + the receiving end's
      // queue) and the local pair's queue (8) have been taken; without credit all 5000 were.
      expect(accepted).toBeGreaterThan(0);
      expect(accepted).toBeLessThanOrEqual(8 + 2 * 16 + 16);
      const got: number[] = [];
      for await (const message of mine) {
        got.push(message.data as number);
        if (got.length === total) break;
      }
      await within(Promise.all(sends), 5000, "every send to resolve");
      expect(got).toEqual(Array.from({ length: total }, (_, i) => i));
    } finally {
      pair.close();
    }
  });

  it("fails sends waiting for credit when the channel closes", async () => {
    const pair = await sessionPair({ eventWindow: 2 }, { eventWindow: 2 });
    try {
      const [mine, theirs] = Channel.pair({ highWaterMark: 1 });
      await pair.client.root.send({ events: theirs });
      const received = (await within(pair.server.root[Symbol.asyncIterator]().next(), 3000, "the channel"))
        .value!;
      const sender = (received.data as { events: Channel }).events;
      const sends = Array.from({ length: 50 }, (_, i) => sender.send(i));
      await settle(100);
      mine.close();
      const outcomes = await within(Promise.allSettled(sends), 3000, "the sends to settle");
      const failed = outcomes.filter((outcome) => outcome.status === "rejected");
      expect(failed.length).toBeGreaterThan(0);
      expect((failed[0] as PromiseRejectedResult).reason).toMatchObject({ code: "ECLOSED" });
    } finally {
      pair.close();
    }
  });
});

describe("event credit with hand-written peers", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-credit-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /** A WireConnection (server side) on a socket whose other end is a raw peer. */
  async function withRawPeer(
    eventWindow: number,
  ): Promise<{ connection: WireConnection; peer: RawPeer; close(): void }> {
    const path = join(dir, `s-${Math.random().toString(36).slice(2)}.sock`);
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
    const socket = await FdSocket.connect(path);
    const connection = new WireConnection(transportFor(socket), {
      role: "server",
      codecs: [cborCodec],
      eventWindow,
    });
    const peer = new RawPeer(await accepted);
    server.close();
    return {
      connection,
      peer,
      close() {
        connection.close();
        peer.close();
      },
    };
  }

  it("announces its limits in HELLO", async () => {
    const { peer, close } = await withRawPeer(16);
    try {
      const hello = await peer.next((frame) => frame.type === FrameType.HELLO, "HELLO");
      const fields = JSON.parse(new TextDecoder().decode(hello.payload));
      expect(fields).toMatchObject({ eventWindow: 16, maxStreams: 256, maxChannels: 10_000 });
    } finally {
      close();
    }
  });

  it("returns credit with WINDOW on the channel id as events are taken", async () => {
    const { connection, peer, close } = await withRawPeer(16);
    try {
      peer.send(helloFrame({ eventWindow: 16 }));
      await connection.ready;
      for (let i = 0; i < 16; i++) peer.send(messageFrame(FrameType.EVENT, 0, i));
      const iterator = connection.root[Symbol.asyncIterator]();
      for (let i = 0; i < 16; i++)
        expect((await within(iterator.next(), 3000, "an event")).value!.data).toBe(i);
      const window = await peer.next((frame) => frame.type === FrameType.WINDOW && frame.id === 0, "WINDOW");
      expect(readU32(window.payload, 0)).toBe(8); // half the window at a time
    } finally {
      close();
    }
  });

  it("treats events beyond the credit as a protocol error (EFLOW_CONTROL)", async () => {
    const { connection, peer, close } = await withRawPeer(4);
    try {
      peer.send(helloFrame({ eventWindow: 4 }));
      await connection.ready;
      // Nobody reads the root channel: past the first few events (credited back while its queue
      // had room) no credit comes back, and a peer that goes on regardless breaks the protocol.
      for (let i = 0; i < 20; i++) peer.send(messageFrame(FrameType.EVENT, 0, i));
      await peer.next((frame) => frame.type === FrameType.GOAWAY, "GOAWAY");
      expect(peer.goaway()?.code).toBe("EFLOW_CONTROL");
    } finally {
      close();
    }
  });

  it("counts no credit with a peer of before it (no eventWindow in its HELLO)", async () => {
    const { connection, peer, close } = await withRawPeer(4);
    try {
      peer.send(helloFrame());
      await connection.ready;
      // Its events are not limited...
      for (let i = 0; i < 50; i++) peer.send(messageFrame(FrameType.EVENT, 0, i));
      const iterator = connection.root[Symbol.asyncIterator]();
      for (let i = 0; i < 50; i++)
        expect((await within(iterator.next(), 3000, "an event")).value!.data).toBe(i);
      // ...and ours to it are not held back for credit it will never send.
      for (let i = 0; i < 50; i++) await within(connection.root.send(i), 1000, "a send");
      await peer.next(
        (frame) => frame.type === FrameType.EVENT && bodyOf(frame).body === 49,
        "the fiftieth event",
      );
      expect(peer.frames.some((frame) => frame.type === FrameType.WINDOW)).toBe(false);
      expect(peer.goaway()).toBeUndefined();
    } finally {
      close();
    }
  });
});

describe("the memory budget", () => {
  it("counts what waits for a reader and returns to zero when it was read or the session closed", async () => {
    const budget = new MemoryBudget(1 << 30);
    const pair = await sessionPair({ memoryBudget: budget }, { memoryBudget: budget });
    // Events the client does not read yet, and stream bytes its reader has not taken.
    const [mine, theirs] = Channel.pair({ highWaterMark: 4 });
    const [bytesMine, bytesTheirs] = ByteStream.pair();
    await pair.client.root.send({ events: theirs, bytes: bytesTheirs });
    const received = (await within(pair.server.root[Symbol.asyncIterator]().next(), 3000, "the message"))
      .value!;
    const { events, bytes } = received.data as { events: Channel; bytes: ByteStream };
    const sends = Array.from({ length: 100 }, (_, i) => events.send({ i, pad: "x".repeat(1000) }));
    const writer = bytes.writable.getWriter();
    void writer.write(new Uint8Array(200_000)).catch(() => undefined);
    await settle(200);
    expect(budget.used).toBeGreaterThan(100_000);
    // Read every event: what they held is released (the unread stream bytes still count).
    let taken = 0;
    for await (const _message of mine) if (++taken === 100) break;
    await within(Promise.all(sends), 3000, "the sends");
    expect(budget.used).toBeLessThan(250_000);
    pair.close();
    await within(Promise.all([pair.client.closed, pair.server.closed]), 3000, "the sessions to close");
    bytesMine.reset(new Error("done"));
    expect(budget.used).toBe(0);
  });
});
