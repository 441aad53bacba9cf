// The HTTPS session transports (an HTTP/2 stream, a WebSocket) say when their bytes have left, over
// real TLS in one process: close() resolves only once the peer has read everything written before
// it and answered the close; a peer that stops reading is dropped after the close's stall bound
// (the promise is kept); and the keep-alive takes a peer that reads a long backlog slowly for
// alive (the transport counts `writesUnblocked`), while one that takes nothing is still dropped.
import { createHash } from "node:crypto";
import {
  createSecureServer,
  connect as http2Connect,
  type ClientHttp2Session,
  type Http2Stream,
} from "node:http2";
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { cborCodec } from "../../codecs/index.js";
import { ByteStream, ConnectionLostError } from "../../index.js";
import { createDevCertificate, type CertificatePair } from "../../transports/http2/dev-certificate.js";
import { http2StreamTransport } from "../../transports/http2/h2-transport.js";
import { webSocketTransport } from "../../transports/http2/websocket-transport.js";
import { wsSocketPort } from "../../transports/http2/ws-socket-port.js";
import type { ByteTransport } from "../../wire/connection.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";
import { openSession } from "../../wire/open-session.js";
import { within } from "./helpers.js";

/** One TLS connection's two ends as session transports, and the server end's reading switch. */
interface Link {
  client: AbortableTransport;
  server: AbortableTransport;
  /** Stops or resumes reading at the server end (what the peer does when it stops reading). */
  reading(on: boolean): void;
  close(): void;
}

let certificate: CertificatePair;
const cleanups: (() => void)[] = [];

beforeAll(async () => {
  certificate = await createDevCertificate();
});

afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/**
 * An HTTP/2 session stream over TLS. The server keeps node's default windows (64 KiB): a peer
 * that does not read backs the writer up after a few frames.
 */
async function http2Link(closeStallMs?: number): Promise<Link> {
  const server = createSecureServer({ ...certificate });
  const accepted = new Promise<Http2Stream>((resolve) => server.once("stream", (stream) => resolve(stream)));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const session: ClientHttp2Session = http2Connect(
    `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    {
      ca: certificate.cert,
    },
  );
  session.on("error", () => undefined);
  const request = session.request({ ":method": "POST", ":path": "/" }, { endStream: false });
  request.on("error", () => undefined);
  const stream = await within(accepted, 5000, "the HTTP/2 stream");
  stream.on("error", () => undefined);
  (stream as unknown as { respond(headers: object): void }).respond({ ":status": 200 });
  const link: Link = {
    client: http2StreamTransport(request, closeStallMs),
    server: http2StreamTransport(stream),
    reading: (on) => void (on ? stream.resume() : stream.pause()),
    close: () => {
      session.destroy();
      server.close();
    },
  };
  cleanups.push(link.close);
  return link;
}

/** A WebSocket over TLS (`ws` at both ends, as the hub and Node clients use it). */
async function webSocketLink(closeStallMs?: number): Promise<Link> {
  const https: HttpsServer = createHttpsServer({ ...certificate });
  const sockets = new WebSocketServer({ server: https });
  const accepted = new Promise<WebSocket>((resolve) => sockets.once("connection", resolve));
  await new Promise<void>((resolve) => https.listen(0, "127.0.0.1", resolve));
  const client = new WebSocket(`wss://127.0.0.1:${(https.address() as AddressInfo).port}`, {
    ca: certificate.cert,
  });
  client.on("error", () => undefined);
  await within(new Promise((resolve) => client.once("open", resolve)), 5000, "the WebSocket");
  const socket = await within(accepted, 5000, "the accepted WebSocket");
  socket.on("error", () => undefined);
  const link: Link = {
    client: webSocketTransport(wsSocketPort(client), undefined, closeStallMs),
    server: webSocketTransport(wsSocketPort(socket)),
    reading: (on) => void (on ? socket.resume() : socket.pause()),
    close: () => {
      client.terminate();
      socket.terminate();
      sockets.close();
      https.close();
    },
  };
  cleanups.push(link.close);
  return link;
}

/** Delivers what `transport` receives into a hash; resolves `closed` with the reason it closed. */
function receive(transport: ByteTransport) {
  const hash = createHash("sha256");
  let bytes = 0;
  let reason: Error | undefined | null = null;
  const closed = new Promise<Error | undefined>((resolve) =>
    transport.start({
      data(chunk) {
        hash.update(chunk);
        bytes += chunk.byteLength;
      },
      closed: (error) => {
        reason = error;
        resolve(error);
      },
    }),
  );
  return {
    closed,
    isClosed: () => reason !== null,
    result: () => ({ bytes, sha: hash.digest("hex") }),
  };
}

/** `total` bytes of a fixed pattern in 64 KiB chunks, and their SHA-256. */
function payload(total: number): { chunks: Uint8Array[]; sha: string } {
  const chunk = new Uint8Array(64 * 1024).map((_, i) => (i * 7) % 251);
  const chunks: Uint8Array[] = [];
  const hash = createHash("sha256");
  for (let sent = 0; sent < total; sent += chunk.byteLength) {
    chunks.push(chunk);
    hash.update(chunk);
  }
  return { chunks, sha: hash.digest("hex") };
}

const links = [
  ["HTTP/2", http2Link],
  ["WebSocket", webSocketLink],
] as const;

describe.each(links)("%s session transport", (_name, open) => {
  it("close() resolves only once the peer read everything written before it and answered", async () => {
    const link = await open();
    const client = receive(link.client);
    const server = receive(link.server);
    link.reading(false);
    const { chunks, sha } = payload(8 * 1024 * 1024);
    for (const chunk of chunks) link.client.write([chunk], []);
    let settled = false;
    const closing = Promise.resolve(link.client.close()).then(() => (settled = true));
    // The peer reads nothing yet: the bytes cannot have left, so the close is not over.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(settled).toBe(false);
    expect(link.client.bufferedBytes).toBeGreaterThan(0);
    // A peer answers the close once it has read to its end (a session does it on GOAWAY).
    void server.closed.then(() => link.server.close());
    link.reading(true);
    await within(closing, 10_000, "the close to be answered");
    expect(server.result()).toEqual({ bytes: chunks.length * 64 * 1024, sha });
    // The peer's answer closed the connection: the transport has reported it.
    expect(client.isClosed()).toBe(true);
  });

  it("a close whose peer takes nothing ends hard after its stall bound, its promise kept", async () => {
    const link = await open(300);
    const client = receive(link.client);
    receive(link.server);
    link.reading(false);
    // More than the windows and the socket buffers take: the rest cannot leave.
    for (const chunk of payload(32 * 1024 * 1024).chunks) link.client.write([chunk], []);
    await within(Promise.resolve(link.client.close()), 5000, "the close to give up on the peer");
    expect(await within(client.closed, 5000, "the client end to be dropped")).toBeInstanceOf(
      ConnectionLostError,
    );
  });
});

describe.each(links)("keep-alive over %s", (_name, open) => {
  const KEEP_ALIVE_MS = 200; // dead after 400 ms of silence
  const SIZE = 12 * 1024 * 1024;
  const timers: NodeJS.Timeout[] = [];

  afterAll(() => {
    for (const timer of timers) clearInterval(timer);
  });

  /**
   * A sender with the short keep-alive and a receiver without one (it only answers PINGs) whose
   * end reads in short bursts every `burstEveryMs` (never, when 0), as a starved process would.
   */
  async function backedUpPair(burstEveryMs: number) {
    const link = await open();
    const sender = openSession(link.client, {
      role: "client",
      codecs: [cborCodec],
      keepAlive: KEEP_ALIVE_MS,
    }).connection;
    const receiver = openSession(link.server, {
      role: "server",
      codecs: [cborCodec],
      keepAlive: 0,
      // The whole stream fits in its window: no WINDOW frame goes back while it is read.
      streamWindow: 32 * 1024 * 1024,
    }).connection;
    cleanups.push(() => {
      sender.close();
      receiver.close();
    });
    const streams: ByteStream[] = [];
    receiver.root.handle((data) => {
      streams.push((data as { stream: ByteStream }).stream);
      return "ok";
    });
    await within(Promise.all([sender.ready, receiver.ready]), 5000, "the handshake");
    const [mine, theirs] = ByteStream.pair();
    expect(await within(sender.root.request({ stream: theirs }), 5000, "the request")).toBe("ok");
    link.reading(false);
    if (burstEveryMs > 0) {
      timers.push(
        setInterval(() => {
          link.reading(true);
          setTimeout(() => link.reading(false), 5);
        }, burstEveryMs),
      );
    }
    const port = mine.openPort()!;
    port.start({
      data: () => undefined,
      end: () => undefined,
      drain: () => undefined,
      reset: () => undefined,
    });
    return { sender, stream: streams[0]!, port };
  }

  it("a peer that reads a long backlog slowly is kept, though its PONG comes after the bound", async () => {
    const { sender, stream, port } = await backedUpPair(50);
    const { chunks, sha } = payload(SIZE);
    for (const chunk of chunks) port.write(chunk);
    port.end();
    const hash = createHash("sha256");
    let bytes = 0;
    const reading = (async () => {
      for await (const part of stream.readable) {
        hash.update(part);
        bytes += part.byteLength;
      }
    })();
    await within(reading, 20_000, "the slow reader to read the whole stream");
    expect({ bytes, sha: hash.digest("hex") }).toEqual({ bytes: SIZE, sha });
    expect(sender.isClosed).toBe(false);
  });

  it("a peer that takes nothing of the backlog is still dropped (ConnectionLostError)", async () => {
    const { sender, port } = await backedUpPair(0);
    for (const chunk of payload(SIZE).chunks) port.write(chunk);
    expect(await within(sender.closed, 10_000, "the silent peer to be dropped")).toBeInstanceOf(
      ConnectionLostError,
    );
  });
});
