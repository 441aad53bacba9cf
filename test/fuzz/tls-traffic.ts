// Real traffic above and below TLS, to mutate: the plaintext HTTP/2 bytes a real node:http2
// client sends (recorded by a TLS-terminating proxy in front of the hub, with the hub's own
// certificate), and the ClientHello a real TLS client opens with.
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { connect as tlsConnect, createServer as createTlsServer, type TLSSocket } from "node:tls";
import { encodeFrame, FrameDecoder, FrameType } from "../../wire/frame.js";
import {
  SERVICES_PATH,
  CALL_PATH,
  SESSION_CONTENT_TYPE,
  SESSION_PATH,
} from "../../transports/http2/paths.js";
import { within } from "../compliance/suite.js";
import { clientHello } from "../http2/helpers.js";
import { cborCodec } from "../../codecs/index.js";
import { withRequestId } from "../../wire/frame.js";
import { concat } from "./mutate.js";

/** The HTTP/2 connection preface every client sends first. */
export const H2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");

/**
 * Records what a real node:http2 client sends (plaintext, preface included) while it opens a
 * session, calls through it, uses the plain mapping and lists the services.
 */
export async function recordHttp2(
  httpsUrl: string,
  certDir: string,
  ca: string,
  service: string,
): Promise<Uint8Array[]> {
  const [key, cert] = await Promise.all([
    readFile(join(certDir, "key.pem")),
    readFile(join(certDir, "cert.pem")),
  ]);
  const { port } = new URL(httpsUrl);
  const recorded: Uint8Array[][] = [];
  const open = new Set<TLSSocket>();
  const proxy = createTlsServer({ key, cert, ALPNProtocols: ["h2"] }, (client) => {
    const chunks: Uint8Array[] = [];
    recorded.push(chunks);
    const upstream = tlsConnect({
      host: "127.0.0.1",
      port: Number(port),
      ca,
      ALPNProtocols: ["h2"],
      servername: "localhost",
    });
    open.add(client).add(upstream);
    client.on("data", (chunk: Buffer) => {
      chunks.push(Uint8Array.from(chunk));
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    const done = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on("close", done).on("error", done);
    upstream.on("close", done).on("error", done);
  });
  await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
  const proxyPort = (proxy.address() as AddressInfo).port;
  const session = http2Connect(`https://localhost:${proxyPort}`, { ca });
  session.on("error", () => undefined);
  try {
    await within(workload(session, service), 10_000, "the recorded HTTP/2 workload");
  } finally {
    session.destroy();
    for (const socket of open) socket.destroy();
    await new Promise((resolve) => proxy.close(resolve));
  }
  return recorded.map((chunks) => concat(chunks));
}

async function workload(session: ClientHttp2Session, service: string): Promise<void> {
  // A session: HELLO, a call, the reply, then the end of the stream.
  const stream = session.request(
    { ":method": "POST", ":path": SESSION_PATH, "content-type": SESSION_CONTENT_TYPE },
    { endStream: false },
  );
  stream.on("error", () => undefined);
  const decoder = new FrameDecoder(1 << 24);
  const replied = new Promise<void>((resolve) => {
    stream.on("data", (chunk: Buffer) => {
      if (decoder.push(chunk).some((frame) => frame.type === FrameType.REPLY)) resolve();
    });
  });
  stream.write(clientHello());
  stream.write(
    encodeFrame(
      FrameType.REQUEST,
      0,
      withRequestId(1, cborCodec.encode({ op: "call", name: service, data: "hi" })),
    ),
  );
  await within(replied, 5000, "the session's reply");
  stream.end();
  await exchange(
    session,
    {
      ":method": "POST",
      ":path": `${CALL_PATH}${service}`,
      "content-type": "application/json",
      "beamhub-timeout": "3000",
    },
    '{"x":[1,2,{"y":"z"}]}',
  );
  await exchange(session, { ":method": "GET", ":path": `${SERVICES_PATH}?prefix=bystander.` });
}

function exchange(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: string,
): Promise<void> {
  const request = session.request(headers, { endStream: body === undefined });
  request.on("error", () => undefined);
  if (body !== undefined) request.end(body);
  request.resume();
  return within(
    new Promise((resolve) => request.once("close", resolve)),
    5000,
    `${headers[":method"]} ${headers[":path"]}`,
  );
}

/** Captures the ClientHello (the first bytes) a real TLS client sends. */
export async function recordClientHello(alpn: string[]): Promise<Uint8Array> {
  let received: (bytes: Uint8Array) => void = () => undefined;
  const hello = new Promise<Uint8Array>((resolve) => (received = resolve));
  const server = createNetServer((socket) => {
    socket.once("data", (chunk: Buffer) => {
      received(Uint8Array.from(chunk));
      socket.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const client = tlsConnect({
    host: "127.0.0.1",
    port: (server.address() as AddressInfo).port,
    ALPNProtocols: alpn,
    servername: "localhost",
  });
  client.on("error", () => undefined);
  try {
    return await within(hello, 5000, "the ClientHello");
  } finally {
    client.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}
