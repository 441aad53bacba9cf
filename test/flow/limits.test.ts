// A per-session limit refuses the one stream, channel or request that exceeds it — typed, with
// the session going on — instead of ending the session (issue 11: the 10,001st stream was a
// GOAWAY that failed every call in flight). Limits are announced in HELLO, and a client over
// the peer's announced limit fails locally.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteStream, Channel, Hub } from "../../index.js";
import { connectUnix, listenUnix, type UnixListener, type UnixListenOptions } from "../../hub/remote/unix.js";
import { LimitExceededError } from "../../wire/errors.js";
import { FrameType } from "../../wire/frame.js";
import { MemoryBudget } from "../../wire/memory-budget.js";
import { bodyOf, helloFrame, messageFrame, RawPeer, Ref } from "./raw-peer.js";

let dir: string;
let hub: Hub;
const listeners: UnixListener[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-limits-"));
  hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  await hub.register("count", (data: Record<string, unknown>) => Object.keys(data).length);
  await hub.register("hang", () => new Promise(() => undefined));
});

afterAll(async () => {
  for (const listener of listeners) await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

async function listen(limits: UnixListenOptions["limits"]): Promise<string> {
  const path = join(dir, `hub-${listeners.length}.sock`);
  listeners.push(await listenUnix(hub, path, { limits }));
  return path;
}

/** A raw client that said HELLO and got the hub's. */
async function rawClient(path: string): Promise<RawPeer> {
  const peer = await RawPeer.connect(path);
  peer.send(helloFrame({ eventWindow: 64 }));
  await peer.next((frame) => frame.type === FrameType.HELLO, "the hub's HELLO");
  return peer;
}

const answerTo = (peer: RawPeer, requestId: number) =>
  peer.next(
    (frame) =>
      (frame.type === FrameType.REPLY || frame.type === FrameType.FAIL) &&
      bodyOf(frame).requestId === requestId,
    `the answer to request ${requestId}`,
  );

describe("per-session limits", () => {
  it("announces maxStreams, maxChannels and eventWindow in the hub's HELLO", async () => {
    const path = await listen({ maxStreams: 2, maxChannels: 3, eventWindow: 32 });
    const peer = await RawPeer.connect(path);
    try {
      const hello = await peer.next((frame) => frame.type === FrameType.HELLO, "HELLO");
      expect(JSON.parse(new TextDecoder().decode(hello.payload))).toMatchObject({
        maxStreams: 2,
        maxChannels: 3,
        eventWindow: 32,
      });
    } finally {
      peer.close();
    }
  });

  it("refuses the request that opens a stream over maxStreams (FAIL ELIMIT, RESETs) and goes on", async () => {
    const path = await listen({ maxStreams: 2 });
    const peer = await rawClient(path);
    try {
      const streams = { a: new Ref("stream", 1), b: new Ref("stream", 3), c: new Ref("stream", 5) };
      peer.send(messageFrame(FrameType.REQUEST, 0, { op: "call", name: "count", data: streams }, 1));
      const fail = await answerTo(peer, 1);
      expect(fail.type).toBe(FrameType.FAIL);
      expect(bodyOf(fail).body).toMatchObject({ code: "ELIMIT", name: "LimitExceededError", hub: true });
      expect(String((bodyOf(fail).body as { message: string }).message)).toMatch(/maxStreams|at most 2/);
      // Every stream the refused message carried is reset with the reason (ids 1, 3 and 5).
      for (const id of [1, 3, 5]) {
        const reset = await peer.next(
          (frame) => frame.type === FrameType.RESET && frame.id === id,
          `RESET ${id}`,
        );
        expect(JSON.stringify(bodyOf(reset).body)).toMatch(/ELIMIT|LimitExceeded/);
      }
      // The session goes on: a call with two streams (within the limit) and a plain one work.
      peer.send(
        messageFrame(
          FrameType.REQUEST,
          0,
          { op: "call", name: "count", data: { a: new Ref("stream", 7), b: new Ref("stream", 9) } },
          2,
        ),
      );
      const reply = await answerTo(peer, 2);
      expect(reply.type).toBe(FrameType.REPLY);
      expect(bodyOf(reply).body).toBe(2);
      expect(peer.goaway()).toBeUndefined();
    } finally {
      peer.close();
    }
  });

  it("refuses a channel over maxChannels the same way", async () => {
    const path = await listen({ maxChannels: 1 });
    const peer = await rawClient(path);
    try {
      const channels = { a: new Ref("channel", 1), b: new Ref("channel", 3) };
      peer.send(messageFrame(FrameType.REQUEST, 0, { op: "call", name: "count", data: channels }, 1));
      expect(bodyOf(await answerTo(peer, 1)).body).toMatchObject({ code: "ELIMIT" });
      await peer.next((frame) => frame.type === FrameType.CLOSE && frame.id === 3, "CLOSE of channel 3");
      peer.send(messageFrame(FrameType.REQUEST, 0, { op: "call", name: "echo", data: "still here" }, 2));
      expect(bodyOf(await answerTo(peer, 2)).body).toBe("still here");
    } finally {
      peer.close();
    }
  });

  it("answers requests over maxPendingRequests FAIL ELIMIT and serves the rest", async () => {
    const path = await listen({ maxPendingRequests: 2 });
    const peer = await rawClient(path);
    try {
      for (const id of [1, 2, 3])
        peer.send(messageFrame(FrameType.REQUEST, 0, { op: "call", name: "hang" }, id));
      expect(bodyOf(await answerTo(peer, 3)).body).toMatchObject({ code: "ELIMIT" });
      peer.send(messageFrame(FrameType.CANCEL, 0, undefined, 1));
      peer.send(messageFrame(FrameType.REQUEST, 0, { op: "call", name: "echo", data: 4 }, 4));
      expect(bodyOf(await answerTo(peer, 4)).body).toBe(4);
    } finally {
      peer.close();
    }
  });

  it("refuses new streams typed while the memory budget is used up, and takes them again after", async () => {
    const budget = new MemoryBudget(1024);
    const path = await listen({ memoryBudget: budget });
    const peer = await rawClient(path);
    try {
      budget.add(2048); // as if other sessions buffered 2 KiB
      const call = (id: number, stream: number) =>
        messageFrame(
          FrameType.REQUEST,
          0,
          { op: "call", name: "count", data: { a: new Ref("stream", stream) } },
          id,
        );
      peer.send(call(1, 1));
      const refused = bodyOf(await answerTo(peer, 1)).body as { code: string; message: string };
      expect(refused.code).toBe("ELIMIT");
      expect(refused.message).toMatch(/budget/);
      budget.add(-2048);
      peer.send(call(2, 3));
      expect(bodyOf(await answerTo(peer, 2)).body).toBe(1);
    } finally {
      peer.close();
    }
  });

  it("fails a client's own send over the hub's announced maxStreams locally, typed", async () => {
    const path = await listen({ maxStreams: 2 });
    const client = await connectUnix(path);
    try {
      const ends = [ByteStream.pair(), ByteStream.pair(), ByteStream.pair()];
      const call = client.call("count", { a: ends[0]![1], b: ends[1]![1], c: ends[2]![1] });
      await expect(call).rejects.toBeInstanceOf(LimitExceededError);
      await expect(call).rejects.toMatchObject({ code: "ELIMIT", limit: "maxStreams" });
      expect(await client.call("echo", "after")).toBe("after");
      const [, theirs] = Channel.pair();
      expect(await client.call("count", { a: ends[0]![1], b: theirs })).toBe(2);
    } finally {
      await client.close();
    }
  });
});
