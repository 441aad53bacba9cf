// A hub over the Unix transport under bad input and dead peers: a broken session is closed with
// a protocol error naming the problem, other sessions keep working, and a peer that dies makes
// pending calls fail at once.
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteStream, Channel, Hub, ServiceGoneError, StreamResetError } from "../../index.js";
import { connectUnix, listenUnix, type UnixListener } from "../../hub/remote/unix.js";
import { encodeFrame, FrameDecoder, FrameType } from "../../wire/frame.js";
import { encodeHello } from "../../wire/hello.js";
import { within } from "../compliance/suite.js";
import { spawnPeer, PEER_LIBRARY } from "../helpers/peer.js";

let dir: string;
let path: string;
let hub: Hub;
let listener: UnixListener;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-faults-"));
  path = join(dir, "hub.sock");
  hub = new Hub();
  await hub.register("echo", (data: unknown) => data);
  listener = await listenUnix(hub, path);
});

afterAll(async () => {
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

/** Sends raw bytes to the hub and returns the GOAWAY it answers with. */
async function goawayFor(bytes: Uint8Array[]): Promise<{ code: string; message: string }> {
  const socket = connect(path);
  const decoder = new FrameDecoder(1 << 24);
  const goaway = new Promise<{ code: string; message: string }>((resolve, reject) => {
    socket.on("data", (chunk) => {
      for (const frame of decoder.push(chunk)) {
        if (frame.type === FrameType.GOAWAY) resolve(JSON.parse(new TextDecoder().decode(frame.payload)));
      }
    });
    socket.on("close", () => reject(new Error("closed without GOAWAY")));
  });
  for (const chunk of bytes) socket.write(chunk);
  try {
    return await within(goaway, 3000, "GOAWAY");
  } finally {
    socket.destroy();
  }
}

const hello = (version = 1) =>
  encodeFrame(
    FrameType.HELLO,
    0,
    encodeHello({
      protocol: "beamhub",
      version,
      codecs: ["cbor"],
      maxFrameSize: 1 << 20,
      streamWindow: 1 << 16,
      fds: false,
    }),
  );

describe("protocol faults", () => {
  it("rejects a wrong protocol version by name", async () => {
    const goaway = await goawayFor([hello(2)]);
    expect(goaway.code).toBe("EVERSION");
    expect(goaway.message).toMatch(/version 2/);
  });

  it("rejects garbage", async () => {
    const goaway = await goawayFor([hello(), new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n")]);
    expect(goaway.code).toBe("EFRAME_TYPE");
  });

  it("rejects an oversized frame from its header alone", async () => {
    const header = new Uint8Array(12);
    new DataView(header.buffer).setUint32(0, 0xfffffff0);
    header[4] = FrameType.EVENT;
    const goaway = await goawayFor([hello(), header]);
    expect(goaway.code).toBe("EFRAME_TOO_LARGE");
  });

  it("rejects a frame before HELLO and an undecodable body", async () => {
    expect((await goawayFor([encodeFrame(FrameType.EVENT, 0)])).code).toBe("EHELLO");
    const junk = encodeFrame(FrameType.EVENT, 0, new Uint8Array([0xff, 0xff, 0xff]));
    expect((await goawayFor([hello(), junk])).code).toBe("EDECODE");
  });

  it("keeps serving other sessions meanwhile", async () => {
    const client = await connectUnix(path);
    await goawayFor([hello(), new Uint8Array(40).fill(0xee)]);
    expect(await client.call("echo", "still here")).toBe("still here");
    await client.close();
  });

  it("refuses a message sent while another is being encoded (from a getter in its data)", async () => {
    const client = await connectUnix(path);
    let nested: Promise<unknown> | undefined;
    let reads = 0;
    const data = {
      // Read once by the walk for attachments, then by the encoder: send from the second read.
      get value(): number {
        if (++reads === 2) {
          nested = client.call("echo", "nested");
          nested.catch(() => undefined); // checked below
        }
        return 1;
      },
    };
    // The outer message is encoded into the outgoing batch in place: a second one written
    // there meanwhile would corrupt it, so it is refused instead.
    expect(await client.call("echo", data)).toEqual({ value: 1 });
    await expect(nested).rejects.toMatchObject({ code: "EINVALID_MESSAGE" });
    expect(await client.call("echo", "after")).toBe("after");
    await client.close();
  });
});

describe("dead peers", () => {
  it("fails a call in flight within a second when the serving process is killed", async () => {
    const peer = await spawnPeer(`import { connectUnix } from ${PEER_LIBRARY};
         const hub = await connectUnix(${JSON.stringify(path)});
         await hub.register("stuck", () => new Promise(() => {}));
         console.log("ready");`);
    const pending = hub.call("stuck");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const killedAt = Date.now();
    peer.kill("SIGKILL");
    await expect(within(pending, 1000, "the call to fail")).rejects.toThrow(ServiceGoneError);
    expect(Date.now() - killedAt).toBeLessThan(1000);
  });

  it("fails streams and channels in flight within a second when the peer is killed mid-stream", async () => {
    const peer = await spawnPeer(`import { connectUnix } from ${PEER_LIBRARY};
         const hub = await connectUnix(${JSON.stringify(path)});
         // Reads one chunk, then stops reading: the caller's writes back up, mid-stream.
         await hub.register("slow.reader", async ({ stream, events }) => {
           const reader = stream.readable.getReader();
           await reader.read();
           await events.send("got the first chunk");
           return new Promise(() => {});
         });
         console.log("ready");`);
    const client = await connectUnix(path);
    const [stream, streamForPeer] = ByteStream.pair();
    const [events, eventsForPeer] = Channel.pair();
    const pending = client.call("slow.reader", { stream: streamForPeer, events: eventsForPeer });
    const writer = stream.writable.getWriter();
    const writing = (async () => {
      const chunk = new Uint8Array(64 * 1024);
      for (;;) await writer.write(chunk); // until the stream fails
    })();
    const iterator = events[Symbol.asyncIterator]();
    expect((await within(iterator.next(), 5000, "the first event")).value?.data).toBe("got the first chunk");
    const killedAt = Date.now();
    peer.kill("SIGKILL");
    await expect(within(writing, 1000, "the writer to fail")).rejects.toThrow(StreamResetError);
    await expect(within(pending, 1000, "the call to fail")).rejects.toThrow(ServiceGoneError);
    await within(events.closed, 1000, "the channel to close");
    expect(Date.now() - killedAt).toBeLessThan(1000);
    await client.close();
  });
});
