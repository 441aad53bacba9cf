// Real traffic to mutate: a scripted session (register, calls with every kind of data, reply
// channels both ways, a byte stream, a failed and a cancelled call, lookup, list, watch,
// unregister) run against a real hub through a recording Unix-socket proxy. What each client
// sent is cut into its frames, so the fuzzers start from what real peers really send.
import { createServer, connect, type Socket } from "node:net";
import { ByteStream, Channel, type HubClient } from "../../index.js";
import { cborCodec, jsonCodec } from "../../codecs/index.js";
import type { Codec } from "../../codecs/index.js";
import { connectUnix } from "../../hub/remote/unix.js";
import { FrameDecoder, FrameType, HEADER_SIZE } from "../../wire/frame.js";
import { within } from "../compliance/suite.js";
import { concat } from "./mutate.js";

/** What one client connection sent and received, in bytes, and cut into whole frames. */
export interface RecordedSession {
  sent: Uint8Array;
  received: Uint8Array;
  /** Each frame the client sent, header and payload (the first is its HELLO). */
  sentFrames: Uint8Array[];
  /** Each frame the hub sent back. */
  receivedFrames: Uint8Array[];
}

/** Runs {@link workload} against the hub at `hubSocket` through a proxy at `proxySocket`, recording. */
export async function recordTraffic(hubSocket: string, proxySocket: string): Promise<RecordedSession[]> {
  const recorded: { sent: Uint8Array[]; received: Uint8Array[] }[] = [];
  const open = new Set<Socket>();
  const proxy = createServer((client) => {
    const record = { sent: [] as Uint8Array[], received: [] as Uint8Array[] };
    recorded.push(record);
    const upstream = connect(hubSocket);
    open.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      record.sent.push(Uint8Array.from(chunk));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      record.received.push(Uint8Array.from(chunk));
      client.write(chunk);
    });
    const done = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", done).on("error", done);
    upstream.on("close", done).on("error", done);
  });
  await new Promise<void>((resolve) => proxy.listen(proxySocket, resolve));
  try {
    for (const codec of [cborCodec, jsonCodec])
      await within(workload(proxySocket, codec), 15_000, `the ${codec.name} workload`);
  } finally {
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
  return recorded.map(({ sent, received }) => {
    const sentBytes = concat(sent);
    const receivedBytes = concat(received);
    return {
      sent: sentBytes,
      received: receivedBytes,
      sentFrames: frames(sentBytes),
      receivedFrames: frames(receivedBytes),
    };
  });
}

/** Cuts `bytes` into whole frames (a trailing partial frame is dropped). */
export function frames(bytes: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let offset = 0;
  for (const frame of new FrameDecoder(0xffffffff).push(bytes)) {
    const size = HEADER_SIZE + frame.payload.byteLength;
    out.push(bytes.slice(offset, offset + size));
    offset += size;
  }
  return out;
}

/** The message bodies (codec bytes) among `frames`: EVENT payloads, REQUEST/REPLY/FAIL after the request id. */
export function bodies(frameList: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const frame of frameList) {
    const type = frame[4];
    if (type === FrameType.EVENT || type === FrameType.CLOSE || type === FrameType.RESET) {
      if (frame.length > HEADER_SIZE) out.push(frame.slice(HEADER_SIZE));
    } else if (type === FrameType.REQUEST || type === FrameType.REPLY || type === FrameType.FAIL) {
      out.push(frame.slice(HEADER_SIZE + 4));
    }
  }
  return out;
}

/** What a well-behaved peer does with a hub, touching every kind of frame and hub operation. */
async function workload(socket: string, codec: Codec): Promise<void> {
  const service = await connectUnix(socket, { codecs: [codec] });
  const caller = await connectUnix(socket, { codecs: [codec] });
  try {
    await registerServices(service);
    const watch = caller.watch({ prefix: "traffic.", existing: true });
    const added = watch[Symbol.asyncIterator]().next();
    const late = await service.register("traffic.late", () => "late", { labels: { tier: "b" } });
    await within(added, 3000, "a watch event");
    await watch.close();
    for (const data of [
      "text",
      42,
      -1.5,
      2n ** 64n,
      null,
      true,
      new Uint8Array([0, 1, 2, 255]),
      { nested: [1, { deep: ["a", { deeper: null }] }], $dollar: { $: 1 } },
      Array.from({ length: 40 }, (_, i) => i * 1000),
    ]) {
      await caller.call("traffic.echo", data, { timeout: 5000, labels: { tier: "a" } });
    }
    const [mine, theirs] = Channel.pair();
    const events: unknown[] = [];
    const collecting = (async () => {
      for await (const message of mine) events.push(message.data);
    })();
    await caller.call("traffic.events", { channel: theirs, count: 3 });
    await within(collecting, 3000, "the events");
    const [ask, askTheirs] = Channel.pair();
    ask.handle((data) => ({ answer: data }));
    await caller.call("traffic.ask", { channel: askTheirs });
    ask.close();
    const [stream, streamTheirs] = ByteStream.pair();
    const echoed = caller.call("traffic.stream", { stream: streamTheirs });
    const writer = stream.writable.getWriter();
    await writer.write(new Uint8Array(3000).fill(0x61));
    await writer.close();
    for await (const _chunk of stream.readable) {
      // drained: the service echoes until our end
    }
    await echoed;
    await caller.call("traffic.nobody", 1, { waitForService: 20 }).catch(() => undefined);
    await caller.call("traffic.fail", "why").catch(() => undefined);
    await caller.call("traffic.slow", 1, { timeout: 30 }).catch(() => undefined);
    await caller.lookup("traffic.echo", { labels: { tier: "a" } });
    await caller.list({ prefix: "traffic." });
    await late.unregister();
  } finally {
    await caller.close();
    await service.close();
  }
}

async function registerServices(service: HubClient): Promise<void> {
  await service.register("traffic.echo", (data: unknown) => data, { labels: { tier: "a" } });
  await service.register("traffic.events", async (data: { channel: Channel; count: number }) => {
    for (let i = 0; i < data.count; i++) await data.channel.send({ seq: i });
    data.channel.close();
    return "sent";
  });
  await service.register("traffic.ask", (data: { channel: Channel }) =>
    data.channel.request("question?", { timeout: 3000 }),
  );
  await service.register("traffic.stream", (data: { stream: ByteStream }) => {
    data.stream.readable.pipeTo(data.stream.writable).catch(() => undefined);
    return "echoing";
  });
  await service.register("traffic.fail", (data: unknown) => {
    throw Object.assign(new Error(`failed: ${String(data)}`), { code: "ETRAFFIC" });
  });
  await service.register("traffic.slow", () => new Promise((resolve) => setTimeout(resolve, 200)));
}
