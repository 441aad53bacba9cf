// Bad bytes on a session (HTTP/2 stream or WebSocket) end that session with a GOAWAY naming
// the problem; the hub and its other sessions carry on.
import { connect as tlsConnect } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { connectHttps, type HttpsRemoteHub } from "../../index.js";
import { encodeFrame, FrameDecoder, FrameType, type Frame } from "../../wire/frame.js";
import {
  clientHello,
  frameCollector,
  goawayOf,
  rawHttp2,
  rawSessionStream,
  startHub,
  within,
  type HttpsFixture,
} from "./helpers.js";

let fixture: HttpsFixture;
let bystander: HttpsRemoteHub;

beforeAll(async () => {
  fixture = await startHub();
  await fixture.hub.register("echo", (data: unknown) => data);
  bystander = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate });
});

afterAll(async () => {
  await bystander?.close();
  await fixture?.close();
});

async function bystanderStillWorks(): Promise<void> {
  expect(await bystander.call("echo", "still here")).toBe("still here");
}

describe("over HTTP/2", () => {
  it.each([
    ["an unknown frame type", [clientHello(), encodeFrame(0x7f, 0, new Uint8Array(2))], "EFRAME_TYPE"],
    ["a frame before HELLO", [encodeFrame(FrameType.PING, 0, new Uint8Array(8))], "EHELLO"],
    ["a huge length", [clientHello(), Buffer.from("ffffffff100000000000000000", "hex")], "EFRAME_TOO_LARGE"],
    [
      "an undecodable body",
      [clientHello(), encodeFrame(FrameType.EVENT, 0, Buffer.from([0xff, 0xfe]))],
      "EDECODE",
    ],
  ])("%s gets the GOAWAY it deserves, and the stream ends", async (_what, chunks, code) => {
    const session = rawHttp2(fixture.listener);
    const stream = rawSessionStream(session);
    const { frames, ended } = frameCollector(stream);
    for (const chunk of chunks) stream.write(chunk);
    await within(ended, 3000, "the session stream to end");
    expect(frames[0]?.type).toBe(FrameType.HELLO);
    expect(goawayOf(frames)?.code).toBe(code);
    session.destroy();
    await bystanderStillWorks();
  });

  it("garbage instead of HTTP/2 closes only that connection", async () => {
    const socket = tlsConnect({
      host: "127.0.0.1",
      port: fixture.listener.port,
      ca: fixture.listener.certificate,
      ALPNProtocols: ["h2"],
    });
    socket.on("error", () => undefined);
    socket.resume();
    await within(new Promise((resolve) => socket.once("secureConnect", resolve)), 3000, "TLS");
    socket.write("this is not the HTTP/2 connection preface\r\n\r\n");
    await within(new Promise((resolve) => socket.once("close", resolve)), 3000, "the connection to close");
    await bystanderStillWorks();
  });
});

describe("over WebSocket", () => {
  function open(): Promise<WebSocket> {
    const socket = new WebSocket(
      `${fixture.listener.url.replace("https:", "wss:")}/beamhub/v1/ws`,
      ["beamhub.v1"],
      {
        ca: fixture.listener.certificate,
      },
    );
    socket.on("error", () => undefined);
    return within(
      new Promise((resolve, reject) => {
        socket.once("open", () => resolve(socket));
        socket.once("error", reject);
      }),
      3000,
      "WebSocket open",
    );
  }

  it("binary garbage gets a GOAWAY, then the socket closes", async () => {
    const socket = await open();
    const decoder = new FrameDecoder(1 << 24);
    const frames: Frame[] = [];
    socket.on("message", (data: Buffer) => frames.push(...decoder.push(data)));
    const closed = new Promise((resolve) => socket.once("close", resolve));
    socket.send(Buffer.concat([clientHello(), encodeFrame(0x7f, 0)]));
    await within(closed, 3000, "close");
    expect(goawayOf(frames)?.code).toBe("EFRAME_TYPE");
    await bystanderStillWorks();
  });

  it("a text message closes the socket with 1003", async () => {
    const socket = await open();
    const closed = new Promise<number>((resolve) => socket.once("close", resolve));
    socket.send("hello?");
    expect(await within(closed, 3000, "close")).toBe(1003);
    await bystanderStillWorks();
  });

  it("an upgrade without the beamhub.v1 subprotocol is refused with 400", async () => {
    const socket = new WebSocket(
      `${fixture.listener.url.replace("https:", "wss:")}/beamhub/v1/ws`,
      ["chat"],
      {
        ca: fixture.listener.certificate,
      },
    );
    const status = await within(
      new Promise<number>((resolve) => {
        socket.once("unexpected-response", (request, response) => {
          request.destroy();
          resolve(response.statusCode ?? 0);
        });
        socket.once("error", () => resolve(-1));
      }),
      3000,
      "the refusal",
    );
    expect(status).toBe(400);
  });
});
