// How the plain HTTP mapping reads a call's body and writes its reply, over real TLS with Node's
// own HTTP/2 and HTTP/1.1 clients. The body is read with `data` events into one buffer and an
// HTTP/2 reply goes out on the stream itself (`stream.respond`), not through the compatibility
// response (issue 19, the curl face); these are the behaviours that must hold with that: bodies
// in several chunks, empty bodies, the size limit, the CORS headers the endpoint set before the
// reply, and a client that resets its stream in the middle of its body.
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import https from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawHttp2, startHub, type HttpsFixture } from "./helpers.js";

const ORIGIN = "https://app.example";
const MAX_BODY = 1024;
let fixture: HttpsFixture;
let echoed = 0;

beforeAll(async () => {
  fixture = await startHub({ maxBodySize: MAX_BODY, allowOrigins: [ORIGIN] });
  await fixture.hub.register("echo", (data: unknown) => {
    echoed++;
    return data;
  });
});

afterAll(async () => {
  await fixture?.close();
});

type Session = ReturnType<typeof rawHttp2>;

interface Reply {
  status: number;
  headers: Record<string, unknown>;
  body: string;
}

/** POSTs `pieces` as the body over HTTP/2, one write per piece, each after the previous was sent. */
async function post2(
  session: Session,
  pieces: string[],
  headers: Record<string, string> = {},
): Promise<Reply> {
  const stream = session.request({
    ":method": "POST",
    ":path": "/beamhub/v1/call/echo",
    "content-type": "application/json",
    ...headers,
  });
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  const responded = once(stream, "response", { signal: AbortSignal.timeout(20_000) });
  for (const piece of pieces) await new Promise<void>((resolve) => stream.write(piece, () => resolve()));
  stream.end();
  const [responseHeaders] = (await responded) as [Record<string, unknown>];
  await once(stream, "end", { signal: AbortSignal.timeout(20_000) });
  return {
    status: Number(responseHeaders[":status"]),
    headers: responseHeaders,
    body: Buffer.concat(chunks).toString(),
  };
}

/** POSTs `body` over HTTP/1.1. */
async function post1(body: string, headers: Record<string, string> = {}): Promise<Reply> {
  const url = new URL("/beamhub/v1/call/echo", fixture.listener.url);
  const request = https.request(url, {
    method: "POST",
    ca: fixture.listener.certificate,
    headers: { "content-type": "application/json", ...headers },
    signal: AbortSignal.timeout(20_000),
  });
  request.end(body);
  const [response] = (await once(request, "response")) as [IncomingMessage];
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  return { status: response.statusCode!, headers: response.headers, body: Buffer.concat(chunks).toString() };
}

describe("the plain mapping's body and reply", () => {
  it("reads a body sent in several chunks, and an empty body as null", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      const value = { text: "x".repeat(300), list: [1, 2, 3] };
      const json = JSON.stringify(value);
      const pieces = [json.slice(0, 7), json.slice(7, 200), json.slice(200)];
      const reply = await post2(session, pieces);
      expect(reply.status).toBe(200);
      expect(reply.headers["content-type"]).toBe("application/json");
      expect(reply.headers["cache-control"]).toBe("no-store");
      expect(Number(reply.headers["content-length"])).toBe(Buffer.byteLength(reply.body));
      expect(JSON.parse(reply.body)).toEqual(value);
      const empty = await post2(session, []);
      expect(empty).toMatchObject({ status: 200, body: "null" });
    } finally {
      session.close();
    }
  }, 30_000);

  it("refuses a body over maxBodySize with 413 ETOO_LARGE, and the call is not made", async () => {
    const before = echoed;
    const session = rawHttp2(fixture.listener);
    try {
      const big = JSON.stringify("y".repeat(MAX_BODY));
      const reply: Reply | Error = await post2(session, [big.slice(0, 600), big.slice(600)]).catch(
        (error: unknown) => error as Error,
      );
      // The server may reset the stream after its 413 (the rest of the upload is not read).
      if (reply instanceof Error) expect(reply).toMatchObject({ code: "ERR_HTTP2_STREAM_ERROR" });
      else {
        expect(reply.status).toBe(413);
        expect(JSON.parse(reply.body)).toMatchObject({ code: "ETOO_LARGE" });
      }
      const http1 = await post1(big);
      expect(http1.status).toBe(413);
      expect(JSON.parse(http1.body)).toMatchObject({ code: "ETOO_LARGE" });
      expect(echoed).toBe(before);
      // The connection still serves.
      expect(await post2(session, ['{"after":1}'])).toMatchObject({ status: 200, body: '{"after":1}' });
    } finally {
      session.close();
    }
  }, 30_000);

  it("keeps the CORS headers of an allowed origin on a 200 reply, over HTTP/2 and HTTP/1.1", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      const reply = await post2(session, ["[1]"], { origin: ORIGIN });
      expect(reply).toMatchObject({ status: 200, body: "[1]" });
      expect(reply.headers["access-control-allow-origin"]).toBe(ORIGIN);
      expect(reply.headers.vary).toBe("Origin");
    } finally {
      session.close();
    }
    const http1 = await post1("[2]", { origin: ORIGIN });
    expect(http1).toMatchObject({ status: 200, body: "[2]" });
    expect(http1.headers["access-control-allow-origin"]).toBe(ORIGIN);
  }, 30_000);

  it("makes no call and leaves no session when the client resets its stream mid-body", async () => {
    const before = echoed;
    const sessionsBefore = fixture.hub.sessionsInfo().length;
    const session = rawHttp2(fixture.listener);
    try {
      const stream = session.request({
        ":method": "POST",
        ":path": "/beamhub/v1/call/echo",
        "content-type": "application/json",
      });
      stream.on("error", () => undefined);
      await new Promise<void>((resolve) => stream.write('{"half": ', () => resolve()));
      stream.close();
      await once(stream, "close", { signal: AbortSignal.timeout(20_000) });
      // The same connection still answers, after the server has seen the reset.
      expect(await post2(session, ['"next"'])).toMatchObject({ status: 200, body: '"next"' });
      expect(echoed).toBe(before + 1);
      expect(fixture.hub.sessionsInfo().length).toBe(sessionsBefore);
    } finally {
      session.close();
    }
  }, 30_000);
});
