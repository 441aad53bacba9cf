// Plain calls over HTTP/2 are read from their streams (Node's core HTTP/2 API), without the
// compatibility layer's request and response objects (issue 19, the curl face). Proved with a
// server whose compatibility request class counts its instances: a call makes none, every other
// route still gets one, and so does a call while someone else listens to `request`. The core
// path keeps what the compatibility layer gave: a reset stream (with an error code) cancels the
// call and concerns that stream alone, a body over the limit gets 413 and the connection goes on,
// a refused upload still ends cleanly, and detaching gives the server its own `stream` listener back.
import { once } from "node:events";
import {
  constants,
  createSecureServer,
  Http2ServerRequest,
  type ClientHttp2Session,
  type ClientHttp2Stream,
} from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  attachHub,
  createDevCertificate,
  Hub,
  type CallContext,
  type HttpsRefusal,
  type Identity,
} from "../../index.js";
import { rawHttp2, startHub, type HttpsFixture } from "./helpers.js";

/** Counts the compatibility requests the server makes. */
let compatibilityRequests = 0;
class CountingRequest extends Http2ServerRequest {
  constructor(...args: ConstructorParameters<typeof Http2ServerRequest>) {
    super(...args);
    compatibilityRequests++;
  }
}

let fixture: HttpsFixture;
const waiting: (() => void)[] = [];
const aborted: unknown[] = [];

beforeAll(async () => {
  fixture = await startHub({ maxBodySize: 1024, tls: { Http2ServerRequest: CountingRequest } });
  await fixture.hub.register("echo", (data: unknown) => data);
  await fixture.hub.register(
    "wait",
    (_data: unknown, context: CallContext) =>
      new Promise((resolve) => {
        const signal = context.signal;
        signal.addEventListener("abort", () => {
          aborted.push(signal.reason);
          resolve(null);
        });
        waiting.shift()?.();
      }),
  );
});

afterAll(async () => {
  await fixture?.close();
});

function request(
  session: ClientHttp2Session,
  method: string,
  path: string,
  body?: string,
): {
  stream: ClientHttp2Stream;
  reply: Promise<{ status: number; headers: Record<string, unknown>; body: string }>;
} {
  const stream = session.request({ ":method": method, ":path": path, "content-type": "application/json" });
  stream.end(body);
  const chunks: Buffer[] = [];
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  const reply = (async () => {
    const [headers] = (await once(stream, "response", { signal: AbortSignal.timeout(20_000) })) as [
      Record<string, unknown>,
    ];
    await once(stream, "end", { signal: AbortSignal.timeout(20_000) });
    return { status: Number(headers[":status"]), headers, body: Buffer.concat(chunks).toString() };
  })();
  return { stream, reply };
}

describe("a plain call over HTTP/2", () => {
  it("is answered from its stream, with no compatibility request; other routes still get one", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      const before = compatibilityRequests;
      const call = await request(session, "POST", "/beamhub/v1/call/echo", '{"a":[1,"x"]}').reply;
      expect(call.status).toBe(200);
      expect(call.headers["content-type"]).toBe("application/json");
      expect(call.headers["cache-control"]).toBe("no-store");
      expect(JSON.parse(call.body)).toEqual({ a: [1, "x"] });
      const refused = await request(session, "POST", "/beamhub/v1/call/nobody", "{}").reply;
      expect(refused.status).toBe(404);
      expect(JSON.parse(refused.body)).toMatchObject({ code: "ESERVICE_NOT_FOUND" });
      expect(compatibilityRequests).toBe(before);
      const services = await request(session, "GET", "/beamhub/v1/services").reply;
      expect(services.status).toBe(200);
      expect(compatibilityRequests).toBe(before + 1);
    } finally {
      session.close();
    }
  }, 30_000);

  it("is cancelled by a reset with an error code, which concerns that stream alone", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      const started = new Promise<void>((resolve) => waiting.push(resolve));
      const { stream, reply } = request(session, "POST", "/beamhub/v1/call/wait", "null");
      stream.on("error", () => undefined);
      reply.catch(() => undefined); // the reset ends it without a reply
      await started;
      stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      await expect.poll(() => aborted.length, { timeout: 20_000 }).toBe(1);
      expect(aborted[0]).toMatchObject({ code: "EABORTED" });
      const next = await request(session, "POST", "/beamhub/v1/call/echo", "7").reply;
      expect(next).toMatchObject({ status: 200, body: "7" });
    } finally {
      session.close();
    }
  }, 30_000);

  it("over the body limit gets 413, and its connection goes on", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      const large = request(session, "POST", "/beamhub/v1/call/echo", JSON.stringify("x".repeat(4096)));
      large.stream.on("error", () => undefined);
      const refused = await large.reply;
      expect(refused.status).toBe(413);
      expect(JSON.parse(refused.body)).toMatchObject({ code: "ETOO_LARGE" });
      const next = await request(session, "POST", "/beamhub/v1/call/echo", '"after"').reply;
      expect(next).toMatchObject({ status: 200, body: '"after"' });
    } finally {
      session.close();
    }
  }, 30_000);

  it("refused before its body is read, lets the client's upload end: the stream closes cleanly", async () => {
    const session = rawHttp2(fixture.listener);
    try {
      // Far over the route's body limit (1 KiB here), refused for its type before any is read.
      const stream = session.request({
        ":method": "POST",
        ":path": "/beamhub/v1/call/echo",
        "content-type": "text/plain",
      });
      stream.on("error", () => undefined);
      stream.end(Buffer.alloc(3 * 1024 * 1024, 0x61));
      const [headers] = (await once(stream, "response", { signal: AbortSignal.timeout(20_000) })) as [
        Record<string, unknown>,
      ];
      expect(headers[":status"]).toBe(415);
      stream.resume();
      await once(stream, "close", { signal: AbortSignal.timeout(20_000) });
      expect(stream.rstCode).toBe(constants.NGHTTP2_NO_ERROR);
      const next = await request(session, "POST", "/beamhub/v1/call/echo", "2").reply;
      expect(next).toMatchObject({ status: 200, body: "2" });
    } finally {
      session.close();
    }
  }, 30_000);

  it("goes through the compatibility layer while another listener hears `request`", async () => {
    const heard: string[] = [];
    const listener = (incoming: Http2ServerRequest): void => void heard.push(incoming.url);
    fixture.listener.server.on("request", listener);
    const session = rawHttp2(fixture.listener);
    try {
      const before = compatibilityRequests;
      const call = await request(session, "POST", "/beamhub/v1/call/echo", "1").reply;
      expect(call).toMatchObject({ status: 200, body: "1" });
      expect(compatibilityRequests).toBe(before + 1);
      expect(heard).toEqual(["/beamhub/v1/call/echo"]);
    } finally {
      fixture.listener.server.off("request", listener);
      session.close();
    }
  }, 30_000);
});

describe("a refused plain call over HTTP/2", () => {
  it("is reported as before: 401 without credentials, 403 with the identity the rules refuse", async () => {
    const refusals: HttpsRefusal[] = [];
    const guarded = await startHub({
      requireAuth: true,
      authenticate: (token) => (token === "bob-token" ? { id: "bob" } : undefined),
      onRefused: (refusal) => void refusals.push(refusal),
      tls: { Http2ServerRequest: CountingRequest },
    });
    guarded.hub.authorize({
      call: (identity: Identity | undefined, service: string) =>
        identity !== undefined && service !== "secret",
    });
    await guarded.hub.register("secret", () => "the secret");
    const session = rawHttp2(guarded.listener);
    try {
      const before = compatibilityRequests;
      const anonymous = await request(session, "POST", "/beamhub/v1/call/secret", "{}").reply;
      expect(anonymous.status).toBe(401);
      const stream = session.request({
        ":method": "POST",
        ":path": "/beamhub/v1/call/secret?x=1",
        "content-type": "application/json",
        authorization: "Bearer bob-token",
      });
      stream.end("{}");
      const [headers] = (await once(stream, "response", { signal: AbortSignal.timeout(20_000) })) as [
        Record<string, unknown>,
      ];
      expect(headers[":status"]).toBe(403);
      stream.resume();
      await expect.poll(() => refusals.length, { timeout: 20_000 }).toBe(2);
      expect(refusals[0]).toMatchObject({
        status: 401,
        code: "EUNAUTHENTICATED",
        method: "POST",
        path: "/beamhub/v1/call/secret",
        transport: "http",
      });
      expect(refusals[1]).toMatchObject({
        status: 403,
        code: "EFORBIDDEN",
        method: "POST",
        path: "/beamhub/v1/call/secret",
        identity: "bob",
        transport: "http",
      });
      expect(compatibilityRequests).toBe(before);
    } finally {
      session.close();
      await guarded.close();
    }
  }, 30_000);
});

describe("attaching to an application's server", () => {
  it("puts its own stream listener in the compatibility layer's place, and back on detach", async () => {
    const hub = new Hub();
    const server = createSecureServer({ ...(await createDevCertificate()), allowHTTP1: true });
    server.on("request", () => undefined);
    const own = (): void => undefined;
    const ownOnce = (): void => undefined;
    server.on("stream", own);
    server.once("stream", ownOnce);
    const names = (): string[] => server.listeners("stream").map((listener) => listener.name);
    expect(names()).toEqual(["bound onServerStream", "own", "ownOnce"]);
    const attached = attachHub(hub, server);
    try {
      expect(names()).toEqual(["onStream", "own", "ownOnce"]);
    } finally {
      await attached.detach();
      await hub.close();
    }
    expect(names()).toEqual(["bound onServerStream", "own", "ownOnce"]);
    // A `once` listener is still one (put back with its wrapper, not as a lasting listener).
    const last = server.rawListeners("stream")[2] as { listener?: unknown };
    expect(last).not.toBe(ownOnce);
    expect(last.listener).toBe(ownOnce);
  });
});
