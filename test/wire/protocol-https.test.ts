// PROTOCOL.md's "Opening a session" against a live HTTPS hub: the http-vector blocks (status
// codes, headers, the HELLO that follows at once), then a client that knows only the document —
// raw HTTP/2, hand-encoded frames — registering a service and calling it through the hub, which
// checks the documented types of hub operations and of the handler request.
import { randomBytes } from "node:crypto";
import type { IncomingHttpHeaders, IncomingMessage } from "node:http";
import { connect as http2Connect, type ClientHttp2Stream } from "node:http2";
import { request as httpsRequest, type RequestOptions } from "node:https";
import type { Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cborCodec } from "../../codecs/index.js";
import { Ref } from "../../codecs/reference.js";
import { Hub, listenHttps, type HttpsListener } from "../../index.js";
import {
  encodeFrame,
  FrameDecoder,
  FrameType,
  splitRequestId,
  withRequestId,
  type Frame,
} from "../../wire/frame.js";
import { decodeHello } from "../../wire/hello.js";
import { within } from "../compliance/suite.js";
import { blocksOf, bytesOf, frameVectors, plainRefHooks } from "./protocol-doc.js";

const TOKEN = "s3cret";
let hub: Hub;
let listener: HttpsListener;

beforeAll(async () => {
  hub = new Hub();
  listener = await listenHttps(hub, {
    authenticate: (token) => (token === TOKEN ? { id: "alice" } : undefined),
  });
});

afterAll(async () => {
  await listener?.close();
  await hub?.close();
});

/** What the hub answered: status, headers, and either the JSON refusal or the first frames. */
interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body?: { code?: string };
  firstFrame?: Frame;
}

/** Reads JSON (a refusal) from a response body, bounded. */
async function jsonBody(stream: NodeJS.ReadableStream): Promise<{ code?: string }> {
  const chunks: Buffer[] = [];
  await within(
    new Promise<void>((resolve, reject) => {
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.once("end", resolve);
      stream.once("error", reject);
    }),
    3000,
    "the refusal's body",
  );
  return JSON.parse(Buffer.concat(chunks).toString("utf8")) as { code?: string };
}

/** The first session frame in a byte stream of frames. */
function firstFrameOf(source: NodeJS.ReadableStream, decode = (chunk: Buffer) => chunk): Promise<Frame> {
  const decoder = new FrameDecoder(1 << 24);
  return within(
    new Promise<Frame>((resolve, reject) => {
      source.on("data", (chunk: Buffer) => {
        const frames = decoder.push(decode(chunk));
        if (frames.length > 0) resolve(frames[0]!);
      });
      source.once("error", reject);
    }),
    3000,
    "the hub's first frame",
  );
}

async function overHttp2(path: string, method: string, headers: Record<string, string>): Promise<Answer> {
  const session = http2Connect(listener.url, { ca: listener.certificate });
  session.on("error", () => undefined);
  try {
    const stream: ClientHttp2Stream = session.request(
      { ":method": method, ":path": path, ...headers },
      { endStream: method === "GET" },
    );
    stream.on("error", () => undefined);
    const responseHeaders = await within(
      new Promise<IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
      3000,
      "the response headers",
    );
    const status = Number(responseHeaders[":status"]);
    if (status !== 200) return { status, headers: responseHeaders, body: await jsonBody(stream) };
    return { status, headers: responseHeaders, firstFrame: await firstFrameOf(stream) };
  } finally {
    session.destroy();
  }
}

/** HTTPS request options; `https` hands `ALPNProtocols` to `tls.connect` (its typings leave it out). */
type Http1Options = RequestOptions & { ALPNProtocols: string[] };

async function overHttp1(path: string, method: string, headers: Record<string, string>): Promise<Answer> {
  const url = new URL(path, listener.url);
  const response = await within(
    new Promise<IncomingMessage>((resolve, reject) => {
      const options: Http1Options = {
        method,
        headers,
        ca: listener.certificate,
        ALPNProtocols: ["http/1.1"],
        agent: false,
      };
      const request = httpsRequest(url, options);
      request.once("response", resolve);
      request.once("error", reject);
      request.end();
    }),
    3000,
    "an HTTP/1.1 response",
  );
  return { status: response.statusCode!, headers: response.headers, body: await jsonBody(response) };
}

/** Unwraps the server's WebSocket frames (unmasked, RFC 6455 §5.2) into their payload bytes. */
function webSocketPayloads(): (chunk: Buffer) => Buffer {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    const payloads: Buffer[] = [];
    for (;;) {
      if (pending.length < 2) break;
      expect(pending[0]! & 0x0f).not.toBe(0x1); // never a text message
      let length = pending[1]! & 0x7f;
      let offset = 2;
      if (length === 126) {
        if (pending.length < 4) break;
        length = pending.readUInt16BE(2);
        offset = 4;
      } else if (length === 127) {
        if (pending.length < 10) break;
        length = Number(pending.readBigUInt64BE(2));
        offset = 10;
      }
      if (pending.length < offset + length) break;
      payloads.push(pending.subarray(offset, offset + length));
      pending = pending.subarray(offset + length);
    }
    return Buffer.concat(payloads);
  };
}

async function overWebSocket(path: string, headers: Record<string, string>): Promise<Answer> {
  const url = new URL(path, listener.url);
  const options: Http1Options = {
    method: "GET",
    ca: listener.certificate,
    ALPNProtocols: ["http/1.1"],
    agent: false,
    headers: {
      connection: "Upgrade",
      upgrade: "websocket",
      "sec-websocket-version": "13",
      "sec-websocket-key": randomBytes(16).toString("base64"),
      ...headers,
    },
  };
  const request = httpsRequest(url, options);
  request.on("error", () => undefined);
  const outcome = await within(
    new Promise<
      | { upgraded: true; response: IncomingMessage; socket: Socket; head: Buffer }
      | { upgraded: false; response: IncomingMessage }
    >((resolve, reject) => {
      request.once("upgrade", (response, socket, head) =>
        resolve({ upgraded: true, response, socket, head }),
      );
      request.once("response", (response) => resolve({ upgraded: false, response }));
      request.once("error", reject);
      request.end();
    }),
    3000,
    "the upgrade's answer",
  );
  const { response } = outcome;
  if (!outcome.upgraded)
    return { status: response.statusCode!, headers: response.headers, body: await jsonBody(response) };
  try {
    const unwrap = webSocketPayloads();
    const first = firstFrameOf(outcome.socket, unwrap);
    if (outcome.head.length > 0) outcome.socket.unshift(outcome.head);
    return { status: response.statusCode!, headers: response.headers, firstFrame: await first };
  } finally {
    outcome.socket.destroy();
  }
}

describe("PROTOCOL.md: opening sessions over HTTPS", () => {
  const vectors = blocksOf("http-vector");

  it("documents the exchanges", () => {
    expect(vectors.length).toBeGreaterThanOrEqual(10);
  });

  for (const vector of vectors) {
    it(vector.get("name")!, async () => {
      const [method, path] = vector.get("request")!.split(" ") as [string, string];
      const headers = JSON.parse(vector.get("headers") ?? "{}") as Record<string, string>;
      const over = vector.get("over");
      const answer =
        over === "h2"
          ? await overHttp2(path, method, headers)
          : over === "http/1.1"
            ? await overHttp1(path, method, headers)
            : await overWebSocket(path, headers);
      expect(answer.status).toBe(Number(vector.get("status")));
      const wanted = JSON.parse(vector.get("response-headers") ?? "{}") as Record<string, string>;
      for (const [name, value] of Object.entries(wanted)) expect(answer.headers[name]).toBe(value);
      if (vector.has("code")) {
        expect(answer.body?.code).toBe(vector.get("code"));
        expect(answer.headers["content-type"]).toBe("application/json");
      }
      if (vector.get("then") === "hello") {
        expect(answer.firstFrame?.type).toBe(FrameType.HELLO);
        const hello = decodeHello(answer.firstFrame!.payload);
        expect(hello.codecs).toContain("cbor");
      }
    });
  }
});

/**
 * A session over one raw HTTP/2 stream, speaking frames by hand. `next` waits for the next frame
 * from the hub that is not keep-alive or credit.
 */
async function rawSession(): Promise<{
  send(frame: Uint8Array): void;
  next(what: string): Promise<Frame>;
  close(): void;
}> {
  const session = http2Connect(listener.url, { ca: listener.certificate });
  session.on("error", () => undefined);
  const stream = session.request(
    { ":method": "POST", ":path": "/beamhub/v1/session", "content-type": "application/beamhub" },
    { endStream: false },
  );
  stream.on("error", () => undefined);
  const decoder = new FrameDecoder(1 << 24);
  const frames: Frame[] = [];
  let wake: (() => void) | undefined;
  stream.on("data", (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) {
      if (frame.type === FrameType.PING) stream.write(encodeFrame(FrameType.PONG, 0, frame.payload));
      else if (frame.type !== FrameType.WINDOW) frames.push(frame);
    }
    wake?.();
  });
  return {
    send: (frame) => void stream.write(frame),
    next: async (what) => {
      await within(
        (async () => {
          while (frames.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        })(),
        3000,
        what,
      );
      return frames.shift()!;
    },
    close: () => session.destroy(),
  };
}

const request = (channel: number, requestId: number, body: unknown): Uint8Array =>
  encodeFrame(FrameType.REQUEST, channel, withRequestId(requestId, cborCodec.encode(body, plainRefHooks)));

const bodyOf = (frame: Frame): unknown => cborCodec.decode(splitRequestId(frame).body, plainRefHooks);

describe("PROTOCOL.md: a client written from the document", () => {
  it("registers, is called with the documented handler request, and gets the documented errors", async () => {
    const session = await rawSession();
    try {
      // Both sides send HELLO at once; nothing else before the hub's.
      session.send(
        bytesOf(frameVectors().get("a hello with the required fields only, that cannot carry fds")!),
      );
      expect((await session.next("the hub's HELLO")).type).toBe(FrameType.HELLO);

      // register: the handler is channel 1, a new id of the client's (odd) parity.
      session.send(
        request(0, 1, {
          op: "register",
          name: "doc.echo",
          labels: { lang: "py" },
          handler: new Ref("channel", 1),
        }),
      );
      const registered = await session.next("register's reply");
      expect({ type: registered.type, id: registered.id }).toEqual({ type: FrameType.REPLY, id: 0 });
      const info = bodyOf(registered) as Record<string, unknown>;
      expect(info).toEqual({
        name: "doc.echo",
        id: expect.any(String),
        labels: { lang: "py" },
        sessionId: expect.any(String),
      });

      // call, with its timeout as an 8-byte CBOR integer (a bigint here): accepted as ms.
      session.send(request(0, 2, { op: "call", name: "doc.echo", data: "hi", options: { timeout: 5000n } }));
      const call = await session.next("the handler request");
      expect({ type: call.type, id: call.id }).toEqual({ type: FrameType.REQUEST, id: 1 });
      const raw = Buffer.from(splitRequestId(call).body).toString("hex");
      const hex = (text: string): string => Buffer.from(text).toString("hex");
      // An anonymous caller's identity is CBOR undefined (f7); the deadline a float64 (fb).
      expect(raw).toContain(`68${hex("identity")}f7`);
      expect(raw).toContain(`68${hex("deadline")}fb`);
      const handlerRequest = bodyOf(call) as Record<string, unknown>;
      expect(Object.keys(handlerRequest)).toEqual(["data", "service", "caller", "deadline"]);
      expect(handlerRequest).toEqual({
        data: "hi",
        service: info,
        caller: { sessionId: info.sessionId, identity: undefined },
        deadline: expect.any(Number),
      });
      const deadline = handlerRequest.deadline as number;
      expect(deadline).toBeGreaterThan(Date.now());
      expect(deadline).toBeLessThanOrEqual(Date.now() + 5000);

      session.send(
        encodeFrame(
          FrameType.REPLY,
          1,
          withRequestId(splitRequestId(call).requestId, cborCodec.encode("HI")),
        ),
      );
      const reply = await session.next("the call's reply");
      expect({ type: reply.type, id: reply.id, requestId: splitRequestId(reply).requestId }).toEqual({
        type: FrameType.REPLY,
        id: 0,
        requestId: 2,
      });
      expect(bodyOf(reply)).toBe("HI");

      // A label value that is not a string, an unknown op, a request on a channel not open.
      const expectFail = async (frame: Uint8Array, channel: number, code: string): Promise<void> => {
        session.send(frame);
        const answer = await session.next(`FAIL ${code}`);
        expect({ type: answer.type, id: answer.id }).toEqual({ type: FrameType.FAIL, id: channel });
        expect(bodyOf(answer)).toMatchObject({ code, hub: true });
      };
      await expectFail(
        request(0, 3, { op: "call", name: "doc.echo", data: 1, options: { labels: { version: 3 } } }),
        0,
        "EINVALID_NAME",
      );
      await expectFail(request(0, 4, { op: "bogus" }), 0, "EINVALID_ARGUMENT");
      await expectFail(request(0, 5, { op: "call", name: "doc.nobody", data: 1 }), 0, "ESERVICE_NOT_FOUND");
      await expectFail(request(9, 6, "hi"), 9, "ECLOSED");
    } finally {
      session.close();
    }
  });
});
