// Cross-site requests: what a web page on another origin can make a visitor's browser send —
// a "simple" POST (text/plain, form types, no content-type), a CORS preflight, a WebSocket
// upgrade, an HTTP/2 session POST — sent by real clients (curl, ws, node:http2) with the
// headers a browser would set. Only allow-listed origins and the hub's own may drive the hub.
import type { IncomingHttpHeaders } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { OriginPolicy } from "../../transports/http2/origin-policy.js";
import {
  certificateFile,
  curl,
  curlVersion,
  rawHttp2,
  startHub,
  within,
  type HttpsFixture,
} from "./helpers.js";

const ALLOWED = "https://app.example.com";
const EVIL = "https://evil.example";

let fixture: HttpsFixture;
let cacert: string;
let calls = 0;
const version = await curlVersion();

beforeAll(async () => {
  fixture = await startHub({ allowOrigins: [ALLOWED, "http://localhost:5173/"] });
  await fixture.hub.register("count", () => ++calls);
  cacert = await certificateFile(fixture);
});

afterAll(async () => {
  await fixture?.close();
});

const callUrl = (): string => `${fixture.listener.url}/beamhub/v1/call/count`;

/** curl with the verbose headers parsed: `-D -` puts the response headers before the body. */
async function curlWithHeaders(
  args: string[],
): Promise<{ status: number; body: string; headers: Record<string, string> }> {
  const result = await curl(["--http2", "--cacert", cacert, "-D", "-", ...args]);
  const [head = "", ...rest] = result.body.split("\r\n\r\n");
  const headers: Record<string, string> = {};
  for (const line of head.split("\r\n").slice(1)) {
    const colon = line.indexOf(":");
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return { status: result.status, body: rest.join("\r\n\r\n"), headers };
}

describe.skipIf(version === undefined)("the plain HTTP mapping", () => {
  it.each([
    ["text/plain", "text/plain;charset=UTF-8"],
    ["a form", "application/x-www-form-urlencoded"],
    ["multipart", "multipart/form-data; boundary=x"],
    ["JSON in another charset", "application/json; charset=iso-8859-1"],
  ])("refuses a %s body with 415 and does not run the call", async (_what, type) => {
    const before = calls;
    const result = await curlWithHeaders(["-H", `content-type: ${type}`, "-d", "null", callUrl()]);
    expect(result.status).toBe(415);
    expect(JSON.parse(result.body)).toMatchObject({
      name: "UnsupportedMediaTypeError",
      code: "ECONTENT_TYPE",
    });
    expect(calls).toBe(before);
  });

  it("refuses a POST without content-type (a bodiless no-cors fetch) with 415", async () => {
    const before = calls;
    const result = await curlWithHeaders(["-X", "POST", callUrl()]);
    expect(result.status).toBe(415);
    expect(JSON.parse(result.body)).toMatchObject({ code: "ECONTENT_TYPE" });
    expect(calls).toBe(before);
  });

  it("accepts application/json with or without charset=utf-8", async () => {
    for (const type of [
      "application/json",
      "application/json; charset=utf-8",
      "Application/JSON;charset=UTF-8",
    ]) {
      const result = await curlWithHeaders(["-H", `content-type: ${type}`, "-d", "null", callUrl()]);
      expect(result.status, type).toBe(200);
    }
  });

  it("refuses a request from an origin not allowed with 403 EORIGIN, before running it", async () => {
    const before = calls;
    for (const origin of [EVIL, "null", "https://app.example.com.evil.example", "http://app.example.com"]) {
      const result = await curlWithHeaders([
        "-H",
        `origin: ${origin}`,
        "-H",
        "content-type: application/json",
        "-d",
        "null",
        callUrl(),
      ]);
      expect(result.status, origin).toBe(403);
      expect(JSON.parse(result.body)).toMatchObject({ name: "OriginNotAllowedError", code: "EORIGIN" });
      expect(result.headers["access-control-allow-origin"]).toBeUndefined();
    }
    const listing = await curlWithHeaders([
      "-H",
      `origin: ${EVIL}`,
      `${fixture.listener.url}/beamhub/v1/services`,
    ]);
    expect(listing.status).toBe(403);
    expect(calls).toBe(before);
  });

  it("answers an allowed origin's preflight and adds Access-Control-Allow-Origin to its replies", async () => {
    const preflight = await curlWithHeaders([
      "-X",
      "OPTIONS",
      "-H",
      `origin: ${ALLOWED}`,
      "-H",
      "access-control-request-method: POST",
      "-H",
      "access-control-request-headers: content-type, authorization",
      callUrl(),
    ]);
    expect(preflight.status).toBe(204);
    expect(preflight.headers).toMatchObject({
      "access-control-allow-origin": ALLOWED,
      "access-control-allow-methods": "GET, POST",
      vary: "Origin",
    });
    expect(preflight.headers["access-control-allow-headers"]).toContain("content-type");
    expect(preflight.headers["access-control-allow-credentials"]).toBeUndefined();

    const before = calls;
    const result = await curlWithHeaders([
      "-H",
      `origin: ${ALLOWED}`,
      "-H",
      "content-type: application/json",
      "-d",
      "null",
      callUrl(),
    ]);
    expect(result.status).toBe(200);
    expect(result.headers).toMatchObject({ "access-control-allow-origin": ALLOWED, vary: "Origin" });
    expect(calls).toBe(before + 1);
    // An error reply carries it too, so the page can read what went wrong.
    const failed = await curlWithHeaders([
      "-H",
      "origin: http://localhost:5173",
      "-H",
      "content-type: text/plain",
      "-d",
      "null",
      callUrl(),
    ]);
    expect(failed.status).toBe(415);
    expect(failed.headers["access-control-allow-origin"]).toBe("http://localhost:5173");
  });

  it("refuses a preflight from an origin not allowed with 403", async () => {
    const preflight = await curlWithHeaders([
      "-X",
      "OPTIONS",
      "-H",
      `origin: ${EVIL}`,
      "-H",
      "access-control-request-method: POST",
      callUrl(),
    ]);
    expect(preflight.status).toBe(403);
    expect(JSON.parse(preflight.body)).toMatchObject({ code: "EORIGIN" });
    expect(preflight.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("lets the hub's own origin in (a page the hub serves)", async () => {
    const result = await curlWithHeaders([
      "-H",
      `origin: ${fixture.listener.url}`,
      "-H",
      "content-type: application/json",
      "-d",
      "null",
      callUrl(),
    ]);
    expect(result.status).toBe(200);
    // Over HTTP/1.1 the Host header names the origin, as :authority does over HTTP/2.
    const h1 = await curlWithHeaders([
      "--http1.1",
      "-H",
      `origin: ${fixture.listener.url}`,
      "-H",
      "content-type: application/json",
      "-d",
      "null",
      callUrl(),
    ]);
    expect(h1.status).toBe(200);
  });
});

/** Opens a WebSocket the way a page on `origin` would; resolves with the upgrade's outcome. */
function webSocketFrom(
  origin: string | undefined,
): Promise<{ opened: boolean; status?: number; body?: string }> {
  const socket = new WebSocket(
    `${fixture.listener.url.replace("https:", "wss:")}/beamhub/v1/ws`,
    ["beamhub.v1"],
    {
      ca: fixture.listener.certificate,
      ...(origin === undefined ? {} : { origin }),
    },
  );
  return within(
    new Promise((resolve, reject) => {
      socket.once("open", () => {
        socket.terminate();
        resolve({ opened: true });
      });
      socket.once("unexpected-response", (_request, response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => {
          socket.terminate();
          resolve({ opened: false, status: response.statusCode ?? 0, body });
        });
      });
      socket.once("error", reject);
    }),
    5000,
    "the WebSocket upgrade",
  );
}

describe("WebSocket upgrades", () => {
  it("refuses an origin not allowed with 403 EORIGIN", async () => {
    const result = await webSocketFrom(EVIL);
    expect(result).toMatchObject({ opened: false, status: 403 });
    expect(JSON.parse(result.body ?? "")).toMatchObject({ code: "EORIGIN" });
  });

  it("accepts no Origin (not a browser), an allowed origin and the hub's own", async () => {
    expect(await webSocketFrom(undefined)).toEqual({ opened: true });
    expect(await webSocketFrom(ALLOWED)).toEqual({ opened: true });
    expect(await webSocketFrom(fixture.listener.url)).toEqual({ opened: true });
  });
});

/** Sends an HTTP/2 session request with `headers`; resolves with the response headers. */
function sessionRequest(extra: Record<string, string>): Promise<IncomingHttpHeaders> {
  const session = rawHttp2(fixture.listener);
  const stream = session.request({
    ":method": "POST",
    ":path": "/beamhub/v1/session",
    "content-type": "application/beamhub",
    ...extra,
  });
  stream.on("error", () => undefined);
  return within(
    new Promise<IncomingHttpHeaders>((resolve) => stream.once("response", resolve)),
    5000,
    "the session response",
  ).finally(() => session.destroy());
}

describe("HTTP/2 session requests", () => {
  it("refuses an origin not allowed (a page's fetch) with 403", async () => {
    expect((await sessionRequest({ origin: EVIL }))[":status"]).toBe(403);
  });

  it("opens sessions for no Origin and allowed origins", async () => {
    expect((await sessionRequest({}))[":status"]).toBe(200);
    const allowed = await sessionRequest({ origin: ALLOWED });
    expect(allowed[":status"]).toBe(200);
  });
});

describe("OriginPolicy", () => {
  it("normalizes allow-list entries and refuses what is not an origin", () => {
    expect(new OriginPolicy(["HTTPS://App.Example.com:443/", "*"]).allowed).toEqual([
      "*",
      "https://app.example.com",
    ]);
    for (const bad of ["app.example.com", "https://app.example.com/path", "ftp://x", "https://u:p@x"]) {
      expect(() => new OriginPolicy([bad]), bad).toThrow(/is not a web origin/);
    }
  });

  it("allows any origin with *", () => {
    const verdict = new OriginPolicy(["*"]).check({ origin: EVIL });
    expect(verdict.headers["access-control-allow-origin"]).toBe(EVIL);
  });
});
