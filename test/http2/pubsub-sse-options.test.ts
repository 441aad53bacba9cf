// Pub/sub over server-sent events, its options on a real TLS listener (HTTP/2 client): a bearer
// token in `?access_token=` for EventSource on a hub that requires tokens — taken only on GET of
// an event stream, and never in a refusal report — the stream's ring under a hub whose pub/sub
// `maxRing` is lower than the mapping's default, and the mapping turned off.
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenHttps, type HttpsRefusal, type Identity } from "../../index.js";
import { startHub, within, type HttpsFixture } from "./helpers.js";
import { parseEvent, type SseEvent } from "./sse-client.js";
import { until } from "../helpers/until.js";

const TOKEN = "eventsource-token-8f14e45f";
const WRONG = "guessed-token-c9f0f895";

/** One request; the body as text once it ends, or the events read until `enough` says so. */
async function request(
  session: ClientHttp2Session,
  path: string,
  options: { method?: string; body?: string; enough?: (events: SseEvent[]) => boolean } = {},
): Promise<{ status: number; body: string; events: SseEvent[] }> {
  const stream = session.request({
    ":method": options.method ?? "GET",
    ":path": path,
    ...(options.body === undefined ? {} : { "content-type": "application/json" }),
  });
  stream.end(options.body);
  const status = await new Promise<number>((resolve, reject) => {
    stream.once("response", (headers) => resolve(Number(headers[":status"])));
    stream.once("error", reject);
  });
  let body = "";
  const events: SseEvent[] = [];
  stream.setEncoding("utf8");
  await within(
    new Promise<void>((resolve) => {
      stream.on("data", (chunk: string) => {
        body += chunk;
        events.splice(0, events.length, ...body.split("\n\n").slice(0, -1).map(parseEvent));
        if (options.enough?.(events) === true) {
          stream.close();
          resolve();
        }
      });
      stream.once("end", resolve);
      stream.once("close", resolve);
    }),
    10_000,
    `the answer to ${options.method ?? "GET"} ${path.split("?")[0]}`,
  );
  return { status, body, events };
}

describe("?access_token= on a hub that requires tokens", () => {
  let fixture: HttpsFixture;
  let client: ClientHttp2Session;
  const refusals: HttpsRefusal[] = [];

  beforeAll(async () => {
    const authenticate = (token: string): Identity | undefined =>
      token === TOKEN ? { id: "viewer", via: "token" } : undefined;
    fixture = await startHub({
      authenticate,
      requireAuth: true,
      onRefused: (refusal) => refusals.push(refusal),
    });
    client = http2Connect(fixture.listener.url, { ca: fixture.listener.certificate });
    client.on("error", () => undefined);
  });

  afterAll(async () => {
    client?.close();
    await fixture?.close();
  });

  it("follows a channel with the token in the query, as the token's identity", async () => {
    await fixture.hub.publish("news", "kept");
    const answer = await request(client, `/beamhub/v1/pubsub/news?history=all&access_token=${TOKEN}`, {
      enough: (events) => events.some((event) => event.event === "message"),
    });
    expect(answer.status).toBe(200);
    const message = answer.events.find((event) => event.event === "message")!;
    expect(JSON.parse(message.data!)).toMatchObject({ seq: 1, data: "kept" });
  });

  it("refuses a wrong token with 401, and the refusal report holds neither token nor query", async () => {
    refusals.length = 0;
    const answer = await request(client, `/beamhub/v1/pubsub/news?access_token=${WRONG}&history=none`);
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "EUNAUTHENTICATED" });
    expect(answer.body).not.toContain(WRONG);
    await until(() => refusals.length > 0, 5000, "the refusal report");
    expect(refusals[0]).toMatchObject({ status: 401, path: "/beamhub/v1/pubsub/news", transport: "http" });
    expect(JSON.stringify(refusals)).not.toContain(WRONG);
    expect(JSON.stringify(refusals)).not.toContain("access_token");
  });

  it("takes the query token nowhere else: not to publish, not on the other routes", async () => {
    const publish = await request(client, `/beamhub/v1/pubsub/news?access_token=${TOKEN}`, {
      method: "POST",
      body: '"x"',
    });
    expect(publish.status).toBe(401);
    expect(JSON.parse(publish.body).message).toContain("authentication required");
    const services = await request(client, `/beamhub/v1/services?access_token=${TOKEN}`);
    expect(services.status).toBe(401);
    expect((await fixture.hub.channels()).find((info) => info.name === "news")?.seq).toBe(1);
  });
});

describe("the event stream's ring and the hub's pub/sub caps", () => {
  it("lowers the default ring to a hub's smaller maxRing; a ring asked above it fails at listen", async () => {
    const fixture = await startHub({}, new Hub({ pubsub: { maxRing: 100, maxRingBytes: 64 * 1024 } }));
    const client = http2Connect(fixture.listener.url, { ca: fixture.listener.certificate });
    client.on("error", () => undefined);
    try {
      await fixture.hub.publish("small", 1);
      // Before, the mapping's ring of 256 was over the hub's maxRing: every stream was refused.
      const answer = await request(client, "/beamhub/v1/pubsub/small", {
        enough: (events) => events.some((event) => event.event === "message"),
      });
      expect(answer.status).toBe(200);
      for (const pubsubHttp of [{ ring: 101 }, { ringBytes: 64 * 1024 + 1 }]) {
        await expect(
          Promise.resolve().then(() => listenHttps(fixture.hub, { pubsubHttp })),
        ).rejects.toMatchObject({ code: "EINVALID_ARGUMENT", message: expect.stringContaining("maxRing") });
      }
    } finally {
      client.close();
      await fixture.close();
    }
  });
});

describe("pub/sub over HTTP turned off", () => {
  it("answers 404 ENOT_FOUND saying so, while the call mapping still serves", async () => {
    const fixture = await startHub({ pubsubHttp: false });
    const client = http2Connect(fixture.listener.url, { ca: fixture.listener.certificate });
    client.on("error", () => undefined);
    try {
      const follow = await request(client, "/beamhub/v1/pubsub/news");
      expect(follow.status).toBe(404);
      expect(JSON.parse(follow.body)).toMatchObject({
        code: "ENOT_FOUND",
        message: expect.stringContaining("pub/sub over HTTP is off"),
      });
      const publish = await request(client, "/beamhub/v1/pubsub/news", { method: "POST", body: "1" });
      expect(publish.status).toBe(404);
      expect((await request(client, "/beamhub/v1/services")).status).toBe(200);
    } finally {
      client.close();
      await fixture.close();
    }
  });
});
