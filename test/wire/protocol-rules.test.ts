// The protocol rules a WireConnection enforces on what its peer sends and on what it sends
// itself (PROTOCOL.md "Frames", "Model", "File descriptors"), each against a peer written by
// hand: channels and streams share one id space; frames on ids that are not open have one
// defined answer per type; a peer whose HELLO said fds:false is never sent fds; no frame
// larger than the peer's maxFrameSize leaves this side, and a larger one arriving is fatal.
import { closeSync, openSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { FdUnavailableError } from "../../fd/errors.js";
import { ByteStream } from "../../model/byte-stream.js";
import type { Channel, ChannelMessage } from "../../model/channel.js";
import { FileDescriptor } from "../../model/file-descriptor.js";
import type { ByteTransport } from "../../wire/byte-transport.js";
import type { DescriptorCodec } from "../../wire/config.js";
import { WireConnection, type ConnectionOptions } from "../../wire/connection.js";
import { encodeFrame, FrameType, withRequestId } from "../../wire/frame.js";
import { within } from "../compliance/suite.js";
import { bodyOf, helloFrame, messageFrame, RawPeer, Ref } from "../flow/raw-peer.js";

/** A transport over a plain socket that claims what a test needs (fds never really travel). */
function socketTransport(
  socket: net.Socket,
  claims: { supportsFds?: boolean; withoutFds?: "convert" | "refuse" } = {},
): ByteTransport {
  return {
    supportsFds: claims.supportsFds ?? false,
    withoutFds: claims.withoutFds,
    write: (chunks) => {
      for (const chunk of chunks) socket.write(chunk);
    },
    start: (handlers) => {
      socket.on("data", (chunk: Buffer) => handlers.data(chunk, []));
      socket.on("error", (error) => handlers.closed(error));
      socket.on("close", () => handlers.closed());
    },
    close: () => void socket.end(),
    abort: () => socket.destroy(),
  };
}

/** Descriptors that are never really passed: enough for a side that says fds:true. */
const fakeDescriptors: DescriptorCodec = {
  toFd: () => {
    throw new Error("no fd may be taken in these tests");
  },
  fromFd: (fd) => new FileDescriptor(fd),
  discard: () => undefined,
};

let dir: string;
let server: net.Server;
let path: string;
/** A regular file to open descriptors of. */
let file: string;
const open: { connection: WireConnection; peer: RawPeer }[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-rules-"));
  path = join(dir, "rules.sock");
  file = join(dir, "file.txt");
  writeFileSync(file, "content");
  server = net.createServer();
  await new Promise<void>((resolve) => server.listen(path, resolve));
});

afterEach(() => {
  for (const { connection, peer } of open.splice(0)) {
    connection.close();
    peer.close();
  }
});

afterAll(async () => {
  server.close();
  await rm(dir, { recursive: true, force: true });
});

/**
 * A WireConnection (the server: the peer's ids are odd) facing a raw peer that has sent its
 * HELLO (`hello` overrides its fields).
 */
async function session(
  options: Partial<ConnectionOptions> = {},
  hello: Record<string, unknown> = {},
  claims: Parameters<typeof socketTransport>[1] = {},
): Promise<{ connection: WireConnection; peer: RawPeer }> {
  const accepted = new Promise<net.Socket>((resolve) => server.once("connection", resolve));
  const peer = await RawPeer.connect(path);
  const socket = await within(accepted, 3000, "the connection");
  const connection = new WireConnection(socketTransport(socket, claims), {
    role: "server",
    codecs: [cborCodec],
    ...options,
  });
  open.push({ connection, peer });
  peer.send(helloFrame(hello));
  await within(connection.ready, 3000, "the handshake");
  await peer.next((frame) => frame.type === FrameType.HELLO, "the HELLO");
  return { connection, peer };
}

/** The GOAWAY the connection sends, and its local failure. */
async function goaway(connection: WireConnection, peer: RawPeer): Promise<{ code: string; message: string }> {
  await peer.next((frame) => frame.type === FrameType.GOAWAY, "GOAWAY");
  const failure = await within(connection.closed, 3000, "the session's end");
  const sent = peer.goaway()!;
  expect(failure).toMatchObject({ code: sent.code });
  return sent;
}

/** The session still answers (a PING gets its PONG). */
async function stillServing(peer: RawPeer, tag: number): Promise<void> {
  const payload = new Uint8Array(8).fill(tag);
  peer.send(encodeFrame(FrameType.PING, 0, payload));
  await peer.next(
    (frame) => frame.type === FrameType.PONG && frame.payload[0] === tag,
    `the PONG to PING ${tag}`,
  );
}

describe("channels and streams share one id space", () => {
  it("a channel reference to an open stream's id is EID_IN_USE", async () => {
    const { connection, peer } = await session();
    peer.send(messageFrame(FrameType.EVENT, 0, { s: new Ref("stream", 1) }));
    await stillServing(peer, 1);
    expect(connection.stats.streams).toBe(1);
    peer.send(messageFrame(FrameType.EVENT, 0, { c: new Ref("channel", 1) }));
    const sent = await goaway(connection, peer);
    expect(sent.code).toBe("EID_IN_USE");
    expect(sent.message).toMatch(/channel reference 1 names a byte stream that is open/);
  });

  it("a stream reference to an open channel's id, or an open stream's, is EID_IN_USE", async () => {
    for (const kind of ["channel", "stream"] as const) {
      const { connection, peer } = await session();
      peer.send(messageFrame(FrameType.EVENT, 0, { first: new Ref(kind, 3) }));
      await stillServing(peer, 2);
      peer.send(messageFrame(FrameType.EVENT, 0, { again: new Ref("stream", 3) }));
      expect((await goaway(connection, peer)).code).toBe("EID_IN_USE");
    }
  });

  it("a reference to an id of this side's parity is EREF", async () => {
    const { connection, peer } = await session();
    peer.send(messageFrame(FrameType.EVENT, 0, { c: new Ref("channel", 2) }));
    expect((await goaway(connection, peer)).code).toBe("EREF");
  });

  it("a stream frame on an open channel, or a channel frame on an open stream, is EID_KIND", async () => {
    const onChannel = await session();
    onChannel.peer.send(encodeFrame(FrameType.DATA, 0, new Uint8Array(3)));
    expect((await goaway(onChannel.connection, onChannel.peer)).code).toBe("EID_KIND");

    const onStream = await session();
    onStream.peer.send(messageFrame(FrameType.EVENT, 0, { s: new Ref("stream", 5) }));
    await stillServing(onStream.peer, 3);
    onStream.peer.send(messageFrame(FrameType.REQUEST, 5, "to a stream?", 1));
    const sent = await goaway(onStream.connection, onStream.peer);
    expect(sent.code).toBe("EID_KIND");
    expect(sent.message).toMatch(/REQUEST frame on byte stream 5/);
  });
});

describe("frames on ids that are not open", () => {
  it("a REQUEST is answered FAIL ECLOSED, and the session goes on", async () => {
    const { peer } = await session();
    peer.send(messageFrame(FrameType.REQUEST, 7, "anyone?", 41));
    const fail = await peer.next((frame) => frame.type === FrameType.FAIL, "the FAIL");
    expect(fail.id).toBe(7);
    expect(bodyOf(fail)).toMatchObject({
      requestId: 41,
      body: { name: "ClosedError", code: "ECLOSED", hub: true },
    });
    await stillServing(peer, 4);
  });

  it("what an EVENT carries is closed: its stream is reset", async () => {
    const { peer } = await session();
    peer.send(messageFrame(FrameType.EVENT, 9, { s: new Ref("stream", 11) }));
    const reset = await peer.next((frame) => frame.type === FrameType.RESET && frame.id === 11, "the RESET");
    expect(bodyOf(reset).body).toMatchObject({ name: "StreamResetError", code: "ESTREAM_RESET" });
    await stillServing(peer, 5);
  });

  it("what a REPLY to no request carries is closed: its channel gets CLOSE", async () => {
    const { connection, peer } = await session();
    peer.send(messageFrame(FrameType.REPLY, 0, { c: new Ref("channel", 13) }, 99));
    const close = await peer.next((frame) => frame.type === FrameType.CLOSE && frame.id === 13, "the CLOSE");
    expect(bodyOf(close).body).toMatchObject({ code: "ECLOSED" });
    await stillServing(peer, 6);
    expect(connection.stats.channels).toBe(1); // the root alone
  });

  it("CANCEL, CLOSE, DATA, WINDOW, END and RESET are ignored", async () => {
    const { connection, peer } = await session();
    peer.send(
      encodeFrame(FrameType.CANCEL, 15, withRequestId(3)),
      encodeFrame(FrameType.CLOSE, 15),
      encodeFrame(FrameType.DATA, 17, new Uint8Array(10)),
      encodeFrame(FrameType.WINDOW, 17, new Uint8Array([0, 0, 1, 0])),
      encodeFrame(FrameType.END, 17),
      encodeFrame(FrameType.RESET, 17),
    );
    await stillServing(peer, 7);
    expect(connection.isClosed).toBe(false);
  });

  it("CLOSE on channel 0 closes the root channel; the session stays until GOAWAY", async () => {
    const { connection, peer } = await session();
    peer.send(encodeFrame(FrameType.CLOSE, 0));
    await within(connection.root.closed, 3000, "the root's close");
    peer.send(messageFrame(FrameType.REQUEST, 0, "after", 5));
    const fail = await peer.next((frame) => frame.type === FrameType.FAIL, "the FAIL");
    expect(bodyOf(fail).body).toMatchObject({ code: "ECLOSED" });
    await stillServing(peer, 8);
  });

  it("a session frame (PING) on an id other than 0 is EFRAME", async () => {
    const { connection, peer } = await session();
    peer.send(encodeFrame(FrameType.PING, 3, new Uint8Array(8)));
    expect((await goaway(connection, peer)).code).toBe("EFRAME");
  });
});

describe("a peer whose HELLO said fds: false is never sent fds", () => {
  it("on a transport that carries fds, a descriptor fails with FdUnavailableError; nothing is taken or sent", async () => {
    const { connection, peer } = await session(
      { descriptors: fakeDescriptors },
      { fds: false },
      { supportsFds: true },
    );
    const fd = openSync(file, "r");
    const descriptor = new FileDescriptor(fd);
    try {
      const sending = connection.root.send({ file: descriptor, s: ByteStream.pair()[1] });
      await expect(sending).rejects.toBeInstanceOf(FdUnavailableError);
      await expect(sending).rejects.toMatchObject({ code: "EFD_UNAVAILABLE" });
      expect(descriptor.isClosed).toBe(false);
      await stillServing(peer, 9);
      expect(peer.frames.filter((frame) => frame.type === FrameType.EVENT)).toEqual([]);
      expect(connection.stats.streams).toBe(0); // the stream it opened was undone
    } finally {
      descriptor.close();
    }
  });

  it("a transport may ask for the same where it cannot carry fds (a Unix socket without the addon)", async () => {
    const { connection } = await session({}, { fds: false }, { withoutFds: "refuse" });
    const fd = openSync(file, "r");
    try {
      await expect(connection.root.send({ file: new FileDescriptor(fd) })).rejects.toBeInstanceOf(
        FdUnavailableError,
      );
    } finally {
      closeSync(fd);
    }
  });

  it("a frame declaring fds to a side whose HELLO said fds: false is EFD_UNEXPECTED", async () => {
    const { connection, peer } = await session();
    peer.send(encodeFrame(FrameType.EVENT, 0, cborCodec.encode("x"), 1));
    expect((await goaway(connection, peer)).code).toBe("EFD_UNEXPECTED");
  });
});

describe("the DATA size limit holds both ways", () => {
  it("stream bytes go in DATA frames no larger than the peer's maxFrameSize", async () => {
    const { connection, peer } = await session({}, { maxFrameSize: 1024, streamWindow: 1 << 20 });
    const [mine, theirs] = ByteStream.pair();
    await connection.root.send({ bytes: theirs });
    const writer = mine.writable.getWriter();
    await writer.write(new Uint8Array(5000).fill(1));
    await within(writer.close(), 3000, "the write");
    await peer.next((frame) => frame.type === FrameType.END, "END");
    const data = peer.frames.filter((frame) => frame.type === FrameType.DATA);
    expect(data.reduce((sum, frame) => sum + frame.payload.byteLength, 0)).toBe(5000);
    expect(Math.max(...data.map((frame) => frame.payload.byteLength))).toBe(1024);
  });

  it("a DATA frame over this side's maxFrameSize is EFRAME_TOO_LARGE, from its header", async () => {
    const { connection, peer } = await session({ maxFrameSize: 4096 });
    peer.send(messageFrame(FrameType.EVENT, 0, { s: new Ref("stream", 1) }));
    await stillServing(peer, 10);
    const header = encodeFrame(FrameType.DATA, 1).subarray(0, 12);
    new DataView(header.buffer, header.byteOffset).setUint32(0, 4097);
    peer.send(header);
    expect((await goaway(connection, peer)).code).toBe("EFRAME_TOO_LARGE");
  });

  it("an error too large for the peer's frames goes out trimmed, as FAIL and as CLOSE reason", async () => {
    const { connection, peer } = await session({}, { maxFrameSize: 1024 });
    const huge = "x".repeat(5000);
    connection.root.handle(() => {
      throw Object.assign(new Error(huge), { details: huge });
    });
    peer.send(messageFrame(FrameType.REQUEST, 0, "fail big", 1));
    const fail = await peer.next((frame) => frame.type === FrameType.FAIL, "the FAIL");
    expect(fail.payload.byteLength).toBeLessThanOrEqual(1024);
    expect((bodyOf(fail).body as { message: string }).message).toMatch(/^x{256}…$/);

    peer.send(messageFrame(FrameType.EVENT, 0, { c: new Ref("channel", 1) }));
    const event = await within(connection.root[Symbol.asyncIterator]().next(), 3000, "the event");
    const { c } = (event.value as ChannelMessage<{ c: Channel }>).data;
    c.close(new Error(huge));
    const close = await peer.next((frame) => frame.type === FrameType.CLOSE && frame.id === 1, "the CLOSE");
    expect(close.payload.byteLength).toBeLessThanOrEqual(1024);
    await stillServing(peer, 11);
  });
});
