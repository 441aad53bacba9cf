// Pub/sub over server-sent events on the HTTPS listener, driven by the real curl binary over
// HTTP/2 and HTTP/1.1: following a channel with `curl -N` (history, live messages, binary data,
// broadcasts, keep-alive), resuming with Last-Event-ID, publishing with POST, the access rules
// `subscribe`/`publish` (refusals reported through onRefused), the stream limit, and a client
// that goes away releasing its subscription at once.
import { connect as http2Connect } from "node:http2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenHttps, type Identity } from "../../index.js";
import type { HttpsRefusal } from "../../transports/http2/refusal-log.js";
import { certificateFile, curl, curlVersion, startHub, within, type HttpsFixture } from "./helpers.js";
import { followWithCurl, messagesOf, parseEvent, type SseEvent } from "./sse-client.js";

const ALICE = "alice-token-3c59dc04"; // may publish and subscribe anywhere
const BOB = "bob-token-b6d767d2"; // may only follow public.*, never publish

let fixture: HttpsFixture;
let cacert: string;
let base: string;
const refusals: HttpsRefusal[] = [];
const version = await curlVersion();
if (version === undefined)
  console.warn("skipping the pub/sub SSE tests: no curl binary with HTTP/2 support (apt-get install curl)");

beforeAll(async () => {
  const authenticate = (token: string): Identity | undefined =>
    token === ALICE ? { id: "alice", via: "token" } : token === BOB ? { id: "bob", via: "token" } : undefined;
  const hub = new Hub({ pubsub: { channels: { "short.history": { history: 2 } } } });
  hub.authorize({
    subscribe: (identity, channel) =>
      identity?.id === "alice" || (identity?.id === "bob" && channel.startsWith("public.")),
    publish: (identity) => identity?.id === "alice",
  });
  fixture = await startHub(
    {
      authenticate,
      onRefused: (refusal) => refusals.push(refusal),
      pubsubHttp: { maxStreams: 3, keepAliveMs: 300, ring: 4 },
    },
    hub,
  );
  cacert = await certificateFile(fixture);
  base = `${fixture.listener.url}/beamhub/v1/pubsub`;
});

afterAll(async () => {
  await fixture?.close();
});

/** Subscribers the hub counts on `channel` now. */
async function subscribers(channel: string): Promise<number> {
  const info = (await fixture.hub.channels()).find((candidate) => candidate.name === channel);
  return info?.subscribers ?? 0;
}

/** Waits (bounded) until the hub counts `n` subscribers on `channel`. */
async function untilSubscribers(channel: string, n: number): Promise<void> {
  await within(
    (async () => {
      while ((await subscribers(channel)) !== n) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    10_000,
    `${n} subscribers on ${channel}`,
  );
}

describe.skipIf(version === undefined).each([
  ["HTTP/2", "--http2", "2"],
  ["HTTP/1.1", "--http1.1", "1.1"],
])("over %s", (_name, flag, httpVersion) => {
  const channel = `room ${httpVersion}`; // a space: the path is percent-encoded
  const url = (name: string, query = ""): string => `${base}/${encodeURIComponent(name)}${query}`;
  const follow = (name: string, query = "", ...extra: string[]) =>
    followWithCurl([
      flag,
      "--cacert",
      cacert,
      "-H",
      `authorization: Bearer ${ALICE}`,
      ...extra,
      url(name, query),
    ]);
  const post = (name: string, body: string, token = ALICE) =>
    curl([
      flag,
      "--cacert",
      cacert,
      "-H",
      `authorization: Bearer ${token}`,
      "-H",
      "content-type: application/json",
      "-d",
      body,
      url(name),
    ]);

  it("follows a channel with curl -N: history, then live messages, binary as $bytes; leaving releases the subscription", async () => {
    await fixture.hub.publish(channel, { text: "first" });
    await fixture.hub.publish(channel, new Uint8Array([1, 2, 3]));
    const curlProcess = follow(channel, "", "-H", "accept: text/event-stream");
    try {
      await curlProcess.until((events) => messagesOf(events).length === 2, "the history");
      expect(curlProcess.events[0]).toMatchObject({ retry: "2000" });
      await untilSubscribers(channel, 1);
      const live = await fixture.hub.publish(channel, "live");
      const events = await curlProcess.until((all) => messagesOf(all).length === 3, "the live message");
      expect(messagesOf(events)).toEqual([
        { id: "1", data: { seq: 1, from: "local", time: expect.any(Number), data: { text: "first" } } },
        { id: "2", data: { seq: 2, from: "local", time: expect.any(Number), data: { $bytes: "AQID" } } },
        { id: "3", data: { seq: 3, from: "local", time: live.time, data: "live" } },
      ]);
    } finally {
      await curlProcess.stop();
    }
    // The client went away: the hub's subscriber count goes back without another publication.
    await untilSubscribers(channel, 0);
  });

  it("resumes after Last-Event-ID without repeating a message; history=N and history=none", async () => {
    const name = `resume ${httpVersion}`;
    for (const n of [1, 2, 3, 4]) await fixture.hub.publish(name, n);
    const resumed = follow(name, "", "-H", "Last-Event-ID: 2");
    const lastTwo = follow(name, "?history=2");
    const none = follow(name, "?history=none");
    try {
      await resumed.until((events) => messagesOf(events).length === 2, "the messages after seq 2");
      await lastTwo.until((events) => messagesOf(events).length === 2, "the last two");
      await untilSubscribers(name, 3);
      await fixture.hub.publish(name, 5);
      for (const follower of [resumed, lastTwo, none]) {
        await follower.until((events) => messagesOf(events).some(({ id }) => id === "5"), "the live message");
      }
      expect(messagesOf(resumed.events).map(({ id }) => id)).toEqual(["3", "4", "5"]);
      expect(messagesOf(lastTwo.events).map(({ id }) => id)).toEqual(["3", "4", "5"]);
      expect(messagesOf(none.events).map(({ id }) => id)).toEqual(["5"]);
    } finally {
      await Promise.all([resumed.stop(), lastTwo.stop(), none.stop()]);
    }
    await untilSubscribers(name, 0);
  });

  it("tells a resume from a seq history no longer holds with a lagged event first", async () => {
    const name = "short.history"; // keeps 2
    const start = (await fixture.hub.channels()).find((info) => info.name === name)?.seq ?? 0;
    for (const n of [1, 2, 3, 4, 5]) await fixture.hub.publish(name, n);
    const follower = follow(name, `?after=${start + 1}`);
    try {
      const events = await follower.until((all) => messagesOf(all).length === 2, "the kept messages");
      const kinds = events.filter((event) => event.event !== undefined);
      expect(kinds[0]).toMatchObject({ event: "lagged" });
      expect(JSON.parse(kinds[0]!.data!)).toEqual({ lagged: 2 });
      expect(messagesOf(events).map(({ data }) => (data as { data: number }).data)).toEqual([4, 5]);
    } finally {
      await follower.stop();
    }
  });

  it("publishes a JSON body with POST and answers {seq, time}; the sender is the caller", async () => {
    const name = `posted ${httpVersion}`;
    const follower = follow(name);
    try {
      await untilSubscribers(name, 1);
      const answer = await post(name, '{"hello":"world","bin":{"$bytes":"AQI="}}');
      expect(answer.status).toBe(200);
      expect(answer.version).toBe(httpVersion === "2" ? "2" : "1.1");
      const published = JSON.parse(answer.body) as { seq: number; time: number };
      expect(published).toEqual({ seq: 1, time: expect.any(Number) });
      const events = await follower.until((all) => messagesOf(all).length === 1, "the posted message");
      expect(messagesOf(events)[0]).toEqual({
        id: "1",
        data: {
          seq: 1,
          from: "alice",
          time: published.time,
          data: { hello: "world", bin: { $bytes: "AQI=" } },
        },
      });
    } finally {
      await follower.stop();
    }
  });

  it("sends a byte-stream broadcast as a broadcast event and releases its copy at once", async () => {
    const name = `broadcasts ${httpVersion}`;
    const follower = follow(name);
    try {
      await untilSubscribers(name, 1);
      const broadcast = await fixture.hub.broadcast(name, { file: "log" });
      const events = await follower.until(
        (all) => messagesOf(all, "broadcast").length === 1,
        "the broadcast",
      );
      expect(messagesOf(events, "broadcast")[0]).toEqual({
        id: String(broadcast.seq),
        data: { seq: broadcast.seq, from: "local", time: broadcast.time, data: { file: "log" } },
      });
      // The copy was released unread, so writing into the broadcast never waits on this reader.
      const writer = broadcast.stream.writable.getWriter();
      await within(writer.write(new Uint8Array(64 * 1024)), 10_000, "a broadcast write");
      await within(writer.close(), 10_000, "the broadcast to close");
    } finally {
      await follower.stop();
    }
  });

  it("sends a keep-alive comment while the channel is quiet", async () => {
    const follower = follow(`quiet ${httpVersion}`);
    try {
      const events = await follower.until(
        (all) => all.some((event) => event.comment === "keep-alive"),
        "a keep-alive",
      );
      expect(messagesOf(events)).toEqual([]);
    } finally {
      await follower.stop();
    }
  });

  it("holds the access rules: subscribe and publish refused with 403, reported as refused", async () => {
    const bobFollows = await curl([
      flag,
      "--cacert",
      cacert,
      "-H",
      `authorization: Bearer ${BOB}`,
      url("private"),
    ]);
    expect(bobFollows.status).toBe(403);
    expect(JSON.parse(bobFollows.body)).toMatchObject({ code: "EFORBIDDEN" });
    const bobPosts = await post("public.news", "1", BOB);
    expect(bobPosts.status).toBe(403);
    expect(JSON.parse(bobPosts.body)).toMatchObject({ code: "EFORBIDDEN" });
    const anonymous = await curl([flag, "--cacert", cacert, url("public.news")]);
    expect(anonymous.status).toBe(403);
    // Reported through onRefused like every 401/403 of the listener (rate-limited per status
    // and code, so the first run's refusal stands for the later ones).
    expect(refusals).toContainEqual(
      expect.objectContaining({
        status: 403,
        code: "EFORBIDDEN",
        method: "GET",
        path: "/beamhub/v1/pubsub/private",
        identity: "bob",
      }),
    );
    // Bob may follow public.*.
    const follower = followWithCurl([
      flag,
      "--cacert",
      cacert,
      "-H",
      `authorization: Bearer ${BOB}`,
      url("public.news"),
    ]);
    try {
      await follower.until(
        (events) => events.some((event) => event.retry !== undefined),
        "the stream to open",
      );
    } finally {
      await follower.stop();
    }
  });

  it("refuses bad requests with clear errors", async () => {
    const get = (target: string, ...extra: string[]) =>
      curl([flag, "--cacert", cacert, "-H", `authorization: Bearer ${ALICE}`, ...extra, target]);
    const cases: [string, string[], number, string][] = [
      [`${base}/bad%00name`, [], 400, "EINVALID_NAME"],
      [`${base}/bad%E0name`, [], 400, "EINVALID_NAME"],
      [`${base}/`, [], 400, "EINVALID_NAME"],
      [url("ok", "?lag=wait"), [], 400, "EINVALID_ARGUMENT"],
      [url("ok", "?history=-1"), [], 400, "EINVALID_ARGUMENT"],
      [url("ok", "?histroy=1"), [], 400, "EINVALID_ARGUMENT"],
      [url("ok"), ["-H", "Last-Event-ID: nope"], 400, "EINVALID_ARGUMENT"],
      [url("ok"), ["-H", "accept: application/json"], 406, "ENOT_ACCEPTABLE"],
      [url("ok"), ["-X", "DELETE"], 405, "EMETHOD"],
      [url("ok"), ["-H", "content-type: text/plain", "-d", "1"], 415, "ECONTENT_TYPE"],
      [url("ok"), ["-H", "content-type: application/json", "-d", "{"], 400, "EINVALID_JSON"],
    ];
    for (const [target, extra, status, code] of cases) {
      const answer = await get(target, ...extra);
      expect({ target, extra, status: answer.status, body: JSON.parse(answer.body) as unknown }).toEqual({
        target,
        extra,
        status,
        body: expect.objectContaining({ code, message: expect.any(String) }),
      });
    }
  });
});

describe.skipIf(version === undefined)("bounds", () => {
  it("refuses event streams over the limit with 503 ELIMIT", async () => {
    const followers = [0, 1, 2].map((n) =>
      followWithCurl(["--cacert", cacert, "-H", `authorization: Bearer ${ALICE}`, `${base}/limit${n}`]),
    );
    try {
      for (const follower of followers) {
        await follower.until(
          (events) => events.some((event) => event.retry !== undefined),
          "the stream to open",
        );
      }
      const over = await curl(["--cacert", cacert, "-H", `authorization: Bearer ${ALICE}`, `${base}/limit3`]);
      expect(over.status).toBe(503);
      expect(JSON.parse(over.body)).toMatchObject({ code: "ELIMIT" });
    } finally {
      await Promise.all(followers.map((follower) => follower.stop()));
    }
  });

  it("drops the oldest for a client that stops reading, and says how many with a lagged event", async () => {
    const name = "flood";
    const client = http2Connect(fixture.listener.url, { ca: fixture.listener.certificate });
    client.on("error", () => undefined);
    try {
      const stream = client.request({
        ":path": `/beamhub/v1/pubsub/${name}`,
        authorization: `Bearer ${ALICE}`,
        accept: "text/event-stream",
      });
      stream.setEncoding("utf8");
      const response = await within(
        new Promise<Record<string, unknown>>((resolve) => stream.once("response", resolve)),
        10_000,
        "the response",
      );
      expect(response[":status"]).toBe(200);
      stream.pause(); // the client stops reading: HTTP/2 flow control stops the hub's writes
      await untilSubscribers(name, 1);
      const chunk = "x".repeat(16 * 1024);
      const total = 64; // 1 MiB: far beyond the 64 KiB window, the write buffer and a ring of 4
      for (let n = 1; n <= total; n++) await fixture.hub.publish(name, { n, chunk });
      let text = "";
      const events: SseEvent[] = [];
      stream.on("data", (data: string) => {
        text += data;
        let end: number;
        while ((end = text.indexOf("\n\n")) >= 0) {
          events.push(parseEvent(text.slice(0, end)));
          text = text.slice(end + 2);
        }
      });
      stream.resume();
      await within(
        (async () => {
          while (!events.some((event) => event.id === String(total)))
            await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
        15_000,
        "the newest message",
      );
      const seen = events.filter((event) => event.event === "message").map((event) => Number(event.id));
      const lagged = events
        .filter((event) => event.event === "lagged")
        .reduce((sum, event) => sum + (JSON.parse(event.data!) as { lagged: number }).lagged, 0);
      expect(lagged).toBeGreaterThan(0);
      // Nothing is lost without being told, nothing repeated, order kept.
      expect(seen.length + lagged).toBe(total);
      expect(seen).toEqual([...seen].sort((a, b) => a - b));
      stream.close();
      await untilSubscribers(name, 0);
    } finally {
      client.close();
    }
  });
});

describe.skipIf(version === undefined)("publishing against a wait subscriber", () => {
  it("answers 504 EPUBLISH_TIMEOUT when a lag: wait subscriber holds the publish back", async () => {
    const own = await startHub({}, new Hub({ pubsub: { publishTimeout: 300 } }));
    const stalled = own.hub.subscribe("held", { lag: "wait", ring: 1, history: false });
    try {
      const ownCa = await certificateFile(own);
      const post = () =>
        curl([
          "--cacert",
          ownCa,
          "-H",
          "content-type: application/json",
          "-d",
          "1",
          `${own.listener.url}/beamhub/v1/pubsub/held`,
        ]);
      expect((await post()).status).toBe(200); // fills the ring of 1
      const held = await post();
      expect(held.status).toBe(504);
      expect(JSON.parse(held.body)).toMatchObject({ code: "EPUBLISH_TIMEOUT" });
    } finally {
      stalled.close();
      await own.close();
    }
  });
});

describe.skipIf(version === undefined)("idle connections", () => {
  it("keeps a quiet stream past the listener's idle timeout with its keep-alive comments", async () => {
    const own = await startHub({ idleTimeout: 1000, pubsubHttp: { keepAliveMs: 100 } }, new Hub());
    const ownCa = await certificateFile(own);
    const follower = followWithCurl([
      "--http1.1",
      "--cacert",
      ownCa,
      `${own.listener.url}/beamhub/v1/pubsub/quiet`,
    ]);
    try {
      // 25 keep-alives 100 ms apart span well over the 1 s idle timeout: the connection lives on.
      await follower.until(
        (events) => events.filter((event) => event.comment === "keep-alive").length >= 25,
        "25 keep-alives",
      );
      expect(follower.process.exitCode).toBe(null);
      await own.hub.publish("quiet", "still here");
      await follower.until((events) => messagesOf(events).length === 1, "a message after the quiet");
    } finally {
      await follower.stop();
      await own.close();
    }
  });
});

describe.skipIf(version === undefined)("closing", () => {
  it.each([["--http2"], ["--http1.1"]])(
    "ends open event streams when the listener and hub close (%s)",
    async (flag) => {
      const own = await startHub({}, new Hub());
      const ownCa = await certificateFile(own);
      const follower = followWithCurl([
        flag,
        "--cacert",
        ownCa,
        `${own.listener.url}/beamhub/v1/pubsub/closing`,
      ]);
      try {
        await follower.until(
          (events) => events.some((event) => event.retry !== undefined),
          "the stream to open",
        );
        await within(own.close(), 10_000, "the listener and hub to close");
        // curl sees the stream end cleanly (exit 0), not a broken transfer.
        expect(await within(follower.exited, 10_000, "curl to see the end")).toBe(0);
      } finally {
        await follower.stop();
      }
    },
  );
});

describe("options", () => {
  it("refuses limits out of range when the listener is made, not at each request", async () => {
    const hub = new Hub();
    try {
      for (const pubsubHttp of [
        { ring: 0 },
        { ring: 65_537 },
        { ringBytes: 64 * 1024 * 1024 + 1 },
        { maxStreams: 1.5 },
      ]) {
        await expect(Promise.resolve().then(() => listenHttps(hub, { pubsubHttp }))).rejects.toMatchObject({
          code: "EINVALID_ARGUMENT",
        });
      }
    } finally {
      await hub.close();
    }
  });
});
