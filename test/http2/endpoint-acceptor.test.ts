// The HTTPS transport on its own, without a hub: the endpoint opens each session and hands it,
// with its peer, to the acceptor it was given; plain requests go to the handler it was given;
// the dialers return opened sessions. What the hub builds on it (listenHttps, attachHub,
// connectHttps) is tested by the other files here.
import { request as httpsRequest } from "node:https";
import { afterEach, describe, expect, it } from "vitest";
import type { HttpsPeer, PlainRequestHandler } from "../../transports/http2/acceptor.js";
import { dialHttps } from "../../transports/http2/dial-https.js";
import { sendJson } from "../../transports/http2/http-replies.js";
import { listenHttpsSessions, type HttpsListener } from "../../transports/http2/listen.js";
import type { WireConnection } from "../../wire/connection.js";
import { within } from "./helpers.js";

const TOKEN = "acceptor-test-token";
const authenticate = (token: string): { id: string } | undefined =>
  token === TOKEN ? { id: "alice" } : undefined;

let listener: HttpsListener | undefined;
const dialed: WireConnection[] = [];

afterEach(async () => {
  for (const connection of dialed.splice(0)) connection.close();
  await listener?.close();
  listener = undefined;
});

/** A GET over HTTPS/1.1 with the listener's certificate pinned: status and JSON body. */
function get(path: string, token?: string): Promise<{ status: number; body: unknown }> {
  const url = new URL(path, listener!.url);
  return within(
    new Promise((resolve, reject) => {
      const request = httpsRequest(
        url,
        {
          ca: listener!.certificate,
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            resolve({ status: response.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text) });
          });
          response.on("error", reject);
        },
      );
      request.on("error", reject);
      request.end();
    }),
    5000,
    `GET ${path}`,
  );
}

describe("the HTTPS endpoint without a hub", () => {
  it("opens each session and hands it with its peer to the acceptor, over HTTP/2 and the WebSocket", async () => {
    const peers: HttpsPeer[] = [];
    listener = await listenHttpsSessions(
      {
        accept(session, peer) {
          peers.push(peer);
          session.connection.root.handle((data) => ({
            echoed: data,
            over: peer.transport,
            by: peer.identity?.id,
          }));
        },
      },
      { authenticate },
    );
    for (const transport of ["http2", "websocket"] as const) {
      const session = await dialHttps(listener.url, { ca: listener.certificate, transport, token: TOKEN });
      dialed.push(session.connection);
      expect(session.kind).toBe(transport);
      const reply = await within(session.connection.root.request({ n: 1 }), 5000, "the acceptor's reply");
      expect(reply).toEqual({ echoed: { n: 1 }, over: transport, by: "alice" });
    }
    expect(peers).toEqual([
      { identity: { id: "alice", via: "token" }, remoteAddress: "127.0.0.1", transport: "http2" },
      { identity: { id: "alice", via: "token" }, remoteAddress: "127.0.0.1", transport: "websocket" },
    ]);
    expect(listener.sessionCount).toBe(2);
  });

  it("ends a session its acceptor cannot take, and tells the peer why", async () => {
    listener = await listenHttpsSessions({
      accept() {
        throw new Error("no room for sessions today");
      },
    });
    const outcome = await dialHttps(listener.url, { ca: listener.certificate, transport: "http2" }).then(
      async (session) => {
        dialed.push(session.connection);
        return within(session.connection.closed, 5000, "the refused session to close");
      },
      (error: unknown) => error,
    );
    expect(String((outcome as Error | undefined)?.message)).toContain("no room for sessions today");
    await within(
      (async () => {
        while (listener!.sessionCount > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      })(),
      5000,
      "the refused session to leave the table",
    );
  });

  it("hands plain requests on its routes to the handler, authenticated, and answers 404 elsewhere", async () => {
    const handler: PlainRequestHandler = {
      serves: (path) => path === "/beamhub/v1/whoami",
      serve: async (request, url, response, peer) => {
        sendJson(response, 200, { method: request.method, query: url.searchParams.get("x"), peer });
      },
    };
    listener = await listenHttpsSessions(
      { accept: () => undefined, requests: handler },
      { authenticate, requireAuth: true },
    );
    expect(await get("/beamhub/v1/whoami?x=1", TOKEN)).toEqual({
      status: 200,
      body: {
        method: "GET",
        query: "1",
        peer: { identity: { id: "alice", via: "token" }, remoteAddress: "127.0.0.1", transport: "http" },
      },
    });
    // Authentication comes before the handler, and a route it does not serve is 404 before that.
    expect((await get("/beamhub/v1/whoami")).status).toBe(401);
    expect(await get("/beamhub/v1/call/echo", TOKEN)).toMatchObject({
      status: 404,
      body: { code: "ENOT_FOUND" },
    });
  });

  it("answers 404 for every plain route when it was given no handler", async () => {
    listener = await listenHttpsSessions({ accept: () => undefined });
    expect(await get("/beamhub/v1/services")).toMatchObject({ status: 404, body: { code: "ENOT_FOUND" } });
  });
});
