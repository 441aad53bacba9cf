// The one WebSocket session transport, under both of its ports, over real sockets: Node's
// (`ws`, fragments and write callbacks) on the server end, and the browser's, driven here by
// `ws`'s WHATWG interface (the same `addEventListener`/`binaryType`/`send` a browser has), on
// the client end.
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import { browserWebSocketTransport, type WebSocketLike } from "../../browser/websocket-transport.js";
import { webSocketTransport, WRITE_HIGH_WATER_MARK } from "../../transports/http2/websocket-transport.js";
import { wsSocketPort } from "../../transports/http2/ws-socket-port.js";
import type { ByteTransport } from "../../wire/connection.js";
import { within } from "./helpers.js";

const MAX_MESSAGE = 1000;

interface Received {
  bytes: number[];
  closed: Promise<Error | undefined>;
  drained: () => number;
}

/** Starts `transport` and collects what it delivers. */
function collect(transport: ByteTransport): Received {
  const bytes: number[] = [];
  let drains = 0;
  let close: (error: Error | undefined) => void = () => undefined;
  const closed = new Promise<Error | undefined>((resolve) => (close = resolve));
  transport.start({
    data(chunk) {
      for (const byte of chunk) bytes.push(byte);
    },
    closed: (error) => close(error),
    drain: () => drains++,
  });
  return { bytes, closed, drained: () => drains };
}

/** Chunks of `sizes` bytes counting 0, 1, 2, ... (mod 251), so order and loss show. */
function pattern(sizes: number[]): { chunks: Uint8Array[]; expected: number[] } {
  const expected: number[] = [];
  const chunks = sizes.map((size) => {
    const chunk = new Uint8Array(size);
    for (let i = 0; i < size; i++) chunk[i] = (expected.length + i) % 251;
    for (const byte of chunk) expected.push(byte);
    return chunk;
  });
  return { chunks, expected };
}

async function until(check: () => boolean, what: string): Promise<void> {
  await within(
    (async () => {
      while (!check()) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
    5000,
    what,
  );
}

let server: WebSocketServer | undefined;
let client: WebSocket | undefined;

afterEach(async () => {
  client?.terminate();
  for (const socket of server?.clients ?? []) socket.terminate();
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  server = undefined;
  client = undefined;
});

/** A `ws` server and a client connected to it; the client's messages as they arrived. */
async function pair(): Promise<{ serverSocket: WebSocket; client: WebSocket; clientMessages: number[] }> {
  server = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
  await new Promise((resolve) => server!.once("listening", resolve));
  const accepted = new Promise<WebSocket>((resolve) => server!.once("connection", resolve));
  client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const clientMessages: number[] = [];
  client.on("message", (data: Buffer) => clientMessages.push(data.byteLength));
  await within(new Promise((resolve) => client!.once("open", resolve)), 5000, "the WebSocket to open");
  return { serverSocket: await within(accepted, 5000, "the server's socket"), client, clientMessages };
}

describe("the WebSocket session transport", () => {
  it("cuts a large batch into messages of at most maxMessage bytes, either way, bytes intact and in order", async () => {
    const { serverSocket, client: socket, clientMessages } = await pair();
    const serverMessages: number[] = [];
    serverSocket.on("message", (data: Buffer) => serverMessages.push(data.byteLength));
    const node = webSocketTransport(wsSocketPort(serverSocket), MAX_MESSAGE);
    const browser = browserWebSocketTransport(socket as unknown as WebSocketLike, MAX_MESSAGE);
    const atServer = collect(node);
    const atClient = collect(browser);

    // Over the copy limit (64 KiB), so the batch goes out in pieces rather than joined.
    const { chunks, expected } = pattern([700, 40_000, 30_000, 1]);
    expect(node.write(chunks, [])).toBe(true);
    await until(() => atClient.bytes.length === expected.length, "the server's batch at the client");
    expect(atClient.bytes).toEqual(expected);
    expect(Math.max(...clientMessages)).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(clientMessages.reduce((sum, size) => sum + size, 0)).toBe(expected.length);

    // The browser's port cannot send fragments: each piece is a message of its own.
    browser.write(chunks, []);
    await until(() => atServer.bytes.length === expected.length, "the client's batch at the server");
    expect(atServer.bytes).toEqual(expected);
    expect(Math.max(...serverMessages)).toBeLessThanOrEqual(MAX_MESSAGE);

    // A small batch is one message, joined.
    const small = pattern([3, 4, 5]);
    const before = clientMessages.length;
    node.write(small.chunks, []);
    await until(() => clientMessages.length === before + 1, "the small batch");
    expect(clientMessages.at(-1)).toBe(12);
  });

  it("reports backpressure past the high-water mark on Node's port, and drain once written", async () => {
    const { serverSocket, client: socket } = await pair();
    const node = webSocketTransport(wsSocketPort(serverSocket));
    const atServer = collect(node);
    const atClient = collect(browserWebSocketTransport(socket as unknown as WebSocketLike));
    const { chunks, expected } = pattern([WRITE_HIGH_WATER_MARK, 1024]);
    expect(node.write(chunks, [])).toBe(false);
    expect(node.bufferedBytes).toBe(expected.length);
    await until(() => atServer.drained() === 1, "drain");
    await until(() => atClient.bytes.length === expected.length, "the bytes at the client");
    expect(node.bufferedBytes).toBe(0);
  });

  it("fails the session on a text message and closes with 1003", async () => {
    const { serverSocket, client: socket } = await pair();
    const atServer = collect(webSocketTransport(wsSocketPort(serverSocket)));
    const code = new Promise<number>((resolve) => socket.once("close", resolve));
    socket.send("hello", { binary: false });
    const error = await within(atServer.closed, 5000, "the session to fail");
    expect(error?.message).toContain("text WebSocket message");
    expect(await within(code, 5000, "the close code")).toBe(1003);
  });

  it("ends cleanly on close, and keeps what came before start", async () => {
    const { serverSocket, client: socket } = await pair();
    const browser = browserWebSocketTransport(socket as unknown as WebSocketLike);
    const node = webSocketTransport(wsSocketPort(serverSocket));
    // The server's bytes reach the client's transport before it is started.
    serverSocket.send(new Uint8Array([1, 2, 3]));
    await new Promise((resolve) => setTimeout(resolve, 50));
    const atClient = collect(browser);
    const atServer = collect(node);
    await until(() => atClient.bytes.length === 3, "the early message");
    expect(atClient.bytes).toEqual([1, 2, 3]);
    void node.close();
    expect(await within(atClient.closed, 5000, "the client's end to close")).toBeUndefined();
    expect(await within(atServer.closed, 5000, "the server's end to close")).toBeUndefined();
  });
});
