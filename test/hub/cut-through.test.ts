// The hub routes a call between two CBOR sessions without decoding what it only passes on
// (issue 19, cut-through at the hub hop): the call's data reaches the service, and the
// service's reply the caller, as the very bytes that were sent — and everything that must look
// into them (an in-process handler, middleware, an in-process caller, a publication, a session
// on another codec) still gets decoded values. Real Unix sockets; the byte-level checks speak
// PROTOCOL.md by hand (test/flow/raw-peer.ts).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec, jsonCodec } from "../../codecs/index.js";
import {
  CallTimeoutError,
  connectUnix,
  Hub,
  listenUnix,
  type RemoteHub,
  type UnixListener,
} from "../../index.js";
import { FrameType, readU32, type Frame } from "../../wire/frame.js";
import { within } from "../compliance/suite.js";
import { bodyOf, helloFrame, messageFrame, Ref, RawPeer } from "../flow/raw-peer.js";

let dir: string;
const hubs: Hub[] = [];
const listeners: UnixListener[] = [];
const clients: RemoteHub[] = [];
const peers: RawPeer[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cut-through-"));
});

afterAll(async () => {
  for (const peer of peers) peer.close();
  for (const client of clients) await client.close();
  for (const listener of listeners) await listener.close();
  for (const hub of hubs) await hub.close();
  await rm(dir, { recursive: true, force: true });
});

/** A hub listening on a socket of its own. */
async function startHub(setUp?: (hub: Hub) => void): Promise<string> {
  const hub = new Hub();
  setUp?.(hub);
  hubs.push(hub);
  const path = join(dir, `hub${hubs.length}.sock`);
  listeners.push(await listenUnix(hub, path));
  return path;
}

async function client(path: string, codec = cborCodec): Promise<RemoteHub> {
  const connected = await connectUnix(path, { codecs: [codec] });
  clients.push(connected);
  return connected;
}

async function rawPeer(path: string): Promise<RawPeer> {
  const peer = await RawPeer.connect(path);
  peers.push(peer);
  peer.send(helloFrame());
  await peer.next((frame) => frame.type === FrameType.HELLO, "the hub's HELLO");
  return peer;
}

const cat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((part) => [...part]));
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const requestIdOf = (frame: Frame): number => readU32(frame.payload, 0);

describe("cut-through at the hub", () => {
  it("passes a call's data and its reply on as the bytes they came in", async () => {
    const path = await startHub();
    // The service: registers with a handler channel (id 1, a client's odd id).
    const service = await rawPeer(path);
    service.send(
      messageFrame(
        FrameType.REQUEST,
        0,
        { op: "register", name: "cut.echo", handler: new Ref("channel", 1) },
        1,
      ),
    );
    await service.next((frame) => frame.type === FrameType.REPLY && frame.id === 0, "the registration");

    // The caller's data, {x: 5}, in an encoding of its own: a one-byte map head and 5 in two
    // bytes. A hub that decodes and encodes again sends b9 0001 61 78 05 instead.
    const data = Uint8Array.from([0xa1, 0x61, 0x78, 0x18, 0x05]);
    const callHead = cborCodec.encode({ op: "call", name: "cut.echo", data: 0 });
    const callBody = cat(callHead.subarray(0, callHead.length - 1), data);
    const caller = await rawPeer(path);
    const frame = new Uint8Array(12 + 4 + callBody.length);
    new DataView(frame.buffer).setUint32(0, 4 + callBody.length);
    frame[4] = FrameType.REQUEST;
    new DataView(frame.buffer).setUint32(12, 7);
    frame.set(callBody, 16);
    caller.send(frame);

    const routed = await service.next(
      (item) => item.type === FrameType.REQUEST && item.id === 1,
      "the routed call at the service",
    );
    const routedBody = hex(routed.payload.subarray(4));
    expect(routedBody).toContain(hex(cat(cborCodec.encode("data"), data)));
    const { body } = bodyOf(routed) as { body: { data: unknown; service: { name: string } } };
    expect(body.data).toEqual({ x: 5 });
    expect(body.service.name).toBe("cut.echo");

    // The service's reply, {y: 7} with 7 in three bytes (cbor-x: b9 0001 61 79 07).
    const reply = Uint8Array.from([0xa1, 0x61, 0x79, 0x19, 0x00, 0x07]);
    const replyFrame = new Uint8Array(12 + 4 + reply.length);
    new DataView(replyFrame.buffer).setUint32(0, 4 + reply.length);
    replyFrame[4] = FrameType.REPLY;
    new DataView(replyFrame.buffer).setUint32(8, 1);
    new DataView(replyFrame.buffer).setUint32(12, requestIdOf(routed));
    replyFrame.set(reply, 16);
    service.send(replyFrame);

    const answer = await caller.next(
      (item) => item.type === FrameType.REPLY && item.id === 0,
      "the reply at the caller",
    );
    expect(requestIdOf(answer)).toBe(7);
    expect(hex(answer.payload.subarray(4))).toBe(hex(reply));
  });

  it("gives decoded values to in-process handlers, in-process callers, publications and other codecs", async () => {
    const path = await startHub((hub) => {
      void hub.register("local.kind", (data: unknown) => ({
        plain: Object.getPrototypeOf(data) === Object.prototype,
        data,
      }));
    });
    const hub = hubs.at(-1)!;
    const service = await client(path);
    await service.register("remote.echo", (data: unknown) => data);
    const jsonService = await client(path, jsonCodec);
    await jsonService.register("remote.json", (data: unknown) => ({ seen: data }));
    const caller = await client(path);

    const value = { list: [1, "two", { three: 3 }], bytes: new Uint8Array([1, 2]), flag: true };
    expect(await caller.call("remote.echo", value)).toEqual(value);
    expect(await caller.call("local.kind", value)).toEqual({ plain: true, data: value });
    expect(await caller.call("remote.json", { a: [1, 2] })).toEqual({ seen: { a: [1, 2] } });
    // What the hub itself calls comes back decoded.
    const local = (await hub.call("remote.echo", value)) as object;
    expect(Object.getPrototypeOf(local)).toBe(Object.prototype);
    expect(local).toEqual(value);
    // Data the fast check does not vouch for (a date, non-ASCII text) is routed decoded.
    const odd = { when: new Date(0), text: "grüße" };
    expect(await caller.call("remote.echo", odd)).toEqual(odd);

    // A publication's data is the hub's to keep and hand out: decoded.
    const subscription = hub.subscribe("cut.news");
    await caller.publish("cut.news", { headline: "hop" });
    const received = await within(
      (async () => {
        for await (const message of subscription) return message;
      })(),
      5000,
      "the publication",
    );
    subscription.close();
    const message = received as { data: unknown };
    expect(Object.getPrototypeOf(message.data)).toBe(Object.prototype);
    expect(message.data).toEqual({ headline: "hop" });
  });

  it("lets middleware see decoded data and replies", async () => {
    const seen: unknown[] = [];
    const path = await startHub((hub) =>
      hub.use(async (context, next) => {
        seen.push(context.data);
        const reply = await next();
        seen.push(reply);
        return reply;
      }),
    );
    const service = await client(path);
    await service.register("mw.echo", (data: unknown) => ({ echoed: data }));
    const caller = await client(path);
    expect(await caller.call("mw.echo", { n: 1 })).toEqual({ echoed: { n: 1 } });
    expect(seen).toEqual([{ n: 1 }, { echoed: { n: 1 } }]);
    for (const item of seen) expect(Object.getPrototypeOf(item)).toBe(Object.prototype);
  });

  it("keeps deadlines, cancellation and failover on a routed call", async () => {
    const path = await startHub();
    const slow = await client(path);
    let cancelled: (reason: unknown) => void;
    const cancelledAtService = new Promise((resolve) => (cancelled = resolve));
    await slow.register("cut.slow", (_data: unknown, context) => {
      context.onCancel((reason) => cancelled(reason));
      return new Promise(() => undefined);
    });
    const caller = await client(path);
    await expect(caller.call("cut.slow", { n: 1 }, { timeout: 200 })).rejects.toBeInstanceOf(
      CallTimeoutError,
    );
    await within(cancelledAtService, 5000, "the service's cancellation");

    // A service that goes away under a call: the call moves to the other instance.
    const leaving = await client(path);
    let arrived: () => void;
    const atLeaving = new Promise<void>((resolve) => (arrived = resolve));
    await leaving.register("cut.failover", () => {
      arrived();
      return new Promise(() => undefined);
    });
    const staying = await client(path);
    const call = caller.call("cut.failover", { n: 2 }, { timeout: 10_000 });
    await within(atLeaving, 5000, "the call at the first instance");
    await staying.register("cut.failover", (data: unknown) => ({ from: "staying", data }));
    await leaving.close();
    expect(await call).toEqual({ from: "staying", data: { n: 2 } });
  });
});
