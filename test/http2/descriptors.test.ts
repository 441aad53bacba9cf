// File descriptors on a network transport: HTTPS cannot carry fds, so a connected socket travels
// as a byte stream to the far side, a regular file as a stream of its content, and anything
// else (a listening socket, a pipe) fails with a clear InvalidMessageError.
import { mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { openSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ByteStream, connectHttps, FileDescriptor, InvalidMessageError } from "../../index.js";
import { startHub, within, type HttpsFixture } from "./helpers.js";

let fixture: HttpsFixture;
let dir: string;

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return Buffer.concat(chunks).toString();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-fd-https-"));
  fixture = await startHub();
  // The hub side receives byte streams where the client attached descriptors.
  await fixture.hub.register("fd.read", async (data: { file: ByteStream }) => {
    expect(data.file).toBeInstanceOf(ByteStream);
    return { text: await readAll(data.file.readable) };
  });
  await fixture.hub.register("fd.shout", async (data: { socket: ByteStream }) => {
    const heard = await readAll(data.socket.readable);
    const writer = data.socket.writable.getWriter();
    await writer.write(new TextEncoder().encode(heard.toUpperCase()));
    await writer.close();
    return heard;
  });
});

afterAll(async () => {
  await fixture?.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each(["http2", "websocket"] as const)("descriptors over %s", (transport) => {
  it("a FileHandle arrives as a byte stream of the file's content", async () => {
    const path = join(dir, `note-${transport}.txt`);
    const content = "content behind a descriptor\n".repeat(10_000); // several chunks
    await writeFile(path, content);
    const handle = await open(path, "r");
    const remote = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, transport });
    try {
      const reply = await remote.call<{ text: string }>("fd.read", { file: new FileDescriptor(handle) });
      expect(reply.text).toBe(content);
      // The sender's handle was taken and closed once its content was sent.
      await expect.poll(() => handle.fd).toBe(-1);
    } finally {
      await remote.close();
    }
  });

  it("a file fd number arrives as its content", async () => {
    const path = join(dir, `fd-${transport}.txt`);
    await writeFile(path, "by number");
    // A bare number from openSync: nothing else owns it (a FileHandle's fd would be closed a
    // second time when the FileHandle is collected).
    const fd = openSync(path, "r");
    const remote = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, transport });
    try {
      const reply = await remote.call<{ text: string }>("fd.read", { file: new FileDescriptor(fd) });
      expect(reply.text).toBe("by number");
    } finally {
      await remote.close();
    }
  });

  it("a connected TCP socket becomes a byte stream both ways, with half-close", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as { port: number }).port;
    const accepted = new Promise<Socket>((resolve) => server.once("connection", resolve));
    const tcpClient = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
    const received: Buffer[] = [];
    tcpClient.on("data", (chunk: Buffer) => received.push(chunk));
    const ended = new Promise((resolve) => tcpClient.once("end", resolve));
    const socket = await within(accepted, 3000, "the TCP connection");
    const remote = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, transport });
    try {
      const reply = remote.call<string>("fd.shout", { socket: new FileDescriptor(socket) });
      // The TCP peer talks to the service through the hub, then half-closes its side.
      tcpClient.write("hello through ");
      tcpClient.end("the hub");
      expect(await within(reply, 5000, "the service's reply")).toBe("hello through the hub");
      await within(ended, 5000, "the answer's end");
      expect(Buffer.concat(received).toString()).toBe("HELLO THROUGH THE HUB");
    } finally {
      tcpClient.destroy();
      server.close();
      await remote.close();
    }
  });

  it("a listening socket cannot travel: a clear InvalidMessageError", async () => {
    const server: Server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const remote = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate, transport });
    try {
      const descriptor = new FileDescriptor(server);
      const error = await remote.call("fd.read", { file: descriptor }).catch((thrown: unknown) => thrown);
      expect(error).toBeInstanceOf(InvalidMessageError);
      expect((error as Error).message).toMatch(/listening socket\) cannot travel on this connection/);
      // Nothing was taken: the sender still owns the server.
      expect(descriptor.isClosed).toBe(false);
      descriptor.close();
    } finally {
      server.close();
      await remote.close();
    }
  });
});
