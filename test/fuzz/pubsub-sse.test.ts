// Fuzzing pub/sub over server-sent events: the parsing of its path, query and Last-Event-ID
// (any text either gives a request every field of which is in range, or a typed 400 error), the
// channel's percent-encoding round trip, and hostile requests against a real TLS listener over
// HTTP/2 (never a 5xx; every stream that opens is cut at once, and afterwards the hub holds no
// subscription and the listener no event stream).
import { connect as http2Connect, type ClientHttp2Session } from "node:http2";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenHttps, type HttpsListener, type Identity } from "../../index.js";
import { channelOfPath, parseEventStreamRequest } from "../../hub/http-api/pubsub-query.js";
import { BeamhubError } from "../../model/errors.js";
import { isValidChannelName } from "../../pubsub/channel-name.js";
import { PUBSUB_PATH } from "../../transports/http2/paths.js";
import { within } from "../compliance/suite.js";
import { fuzzParameters, timeLimit } from "./settings.js";

const TOKEN = "sse-fuzz-token-1679091c";

/** Query parameter names: the known ones, near misses and junk. */
const names = fc.oneof(
  fc.constantFrom("history", "after", "lag", "echo", "History", "afterr", "access_token", ""),
  fc.string({ maxLength: 8 }),
);
/** Values: numbers in and out of range, words the parser knows, hostile text. */
const values = fc.oneof(
  fc.constantFrom(
    "0",
    "1",
    "all",
    "none",
    "true",
    "false",
    "drop",
    "drop-oldest",
    "wait",
    "-1",
    "1e3",
    "0x10",
  ),
  fc.constantFrom("9007199254740991", "9007199254740992", "99999999999999999999", " 1", "1 ", "", "+1", "01"),
  fc.nat().map(String),
  fc.string({ maxLength: 24, unit: "binary" }),
);
/** Channel paths: valid names encoded, percent escapes of every kind, raw junk. */
const channelPaths = fc.oneof(
  fc.string({ minLength: 0, maxLength: 40, unit: "binary" }).map(encodeURIComponent),
  fc
    .array(
      fc.constantFrom("%00", "%7F", "%E0", "%C3%A9", "%20", "%", "%2", "%2F", "a", "/", "?", "#", "%zz"),
      {
        maxLength: 10,
      },
    )
    .map((parts) => parts.join("")),
  fc.string({ maxLength: 300 }),
);

describe("the event stream's request parsing", () => {
  it("gives an in-range request or a typed 400 error, for any path, query and Last-Event-ID", () => {
    fc.assert(
      fc.property(
        channelPaths,
        fc.array(fc.tuple(names, values), { maxLength: 5 }),
        fc.option(values, { nil: undefined }),
        (path, pairs, lastEventId) => {
          const query = new URLSearchParams(pairs);
          const headers = lastEventId === undefined ? {} : { "last-event-id": lastEventId };
          let request;
          try {
            request = parseEventStreamRequest(`${PUBSUB_PATH}${path}`, query, headers);
          } catch (error) {
            expect(error).toBeInstanceOf(BeamhubError);
            expect(["EINVALID_NAME", "EINVALID_ARGUMENT"]).toContain((error as BeamhubError).code);
            expect((error as Error).message.length).toBeLessThan(400); // hostile text is cut
            return;
          }
          expect(isValidChannelName(request.channel)).toBe(true);
          const { history, after } = request;
          expect(typeof history === "boolean" || (Number.isSafeInteger(history) && history >= 0)).toBe(true);
          expect(after === undefined || (Number.isSafeInteger(after) && after >= 0)).toBe(true);
          // access_token is the listener's (EventSource's bearer token): let through, never read here.
          for (const name of query.keys())
            expect(["history", "after", "lag", "echo", "access_token"]).toContain(name);
          expect(["drop", "drop-oldest", null]).toContain(query.get("lag"));
          // Last-Event-ID (when sent and not empty) wins over ?after=.
          const resumeText =
            lastEventId !== undefined && lastEventId !== "" ? lastEventId : query.get("after");
          expect(after).toBe(resumeText === null ? undefined : Number(resumeText));
        },
      ),
      fuzzParameters("pubsub-sse parse", 500),
    );
  });

  it("gives back every valid channel name from its percent-encoded path", () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[\x20-\x7e]{1,255}$/), (channel) => {
        expect(channelOfPath(`${PUBSUB_PATH}${encodeURIComponent(channel)}`)).toBe(channel);
      }),
      fuzzParameters("pubsub-sse channel round trip", 300),
    );
  });
});

describe("hostile requests against a real listener", () => {
  let hub: Hub;
  let listener: HttpsListener;
  let client: ClientHttp2Session;

  beforeAll(async () => {
    hub = new Hub();
    hub.authorize({
      subscribe: (identity) => identity !== undefined,
      publish: (identity) => identity !== undefined,
    });
    const authenticate = (token: string): Identity | undefined =>
      token === TOKEN ? { id: "fuzzer", via: "token" } : undefined;
    listener = await listenHttps(hub, { authenticate, pubsubHttp: { maxStreams: 4 } });
    client = http2Connect(listener.url, { ca: listener.certificate });
    client.on("error", () => undefined);
  });

  afterAll(async () => {
    client?.close();
    await listener?.close();
    await hub?.close();
  });

  /** Sends one request, cuts any event stream at once, and resolves to its status. */
  function exchange(headers: Record<string, string>, body: string | undefined): Promise<number> {
    return within(
      new Promise<number>((resolve, reject) => {
        const stream = client.request(headers, { endStream: body === undefined });
        stream.on("error", () => undefined);
        stream.once("response", (response) => {
          const status = Number(response[":status"]);
          stream.close(); // an event stream that opened: the client goes away at once
          resolve(status);
        });
        stream.once("close", () => reject(new Error(`no response to ${JSON.stringify(headers)}`)));
        if (body !== undefined) stream.end(body);
      }),
      10_000,
      "an answer",
    );
  }

  const STATUSES = new Set([200, 400, 401, 403, 404, 405, 406, 413, 415, 503]);

  it(
    "answers every request with a 2xx-4xx status (503 only over the stream limit) and leaks no subscription",
    async () => {
      const seen = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            { arbitrary: fc.constantFrom("GET", "POST"), weight: 6 },
            { arbitrary: fc.constantFrom("PUT", "HEAD", "DELETE"), weight: 1 },
          ),
          fc.oneof(
            { arbitrary: channelPaths, weight: 1 },
            { arbitrary: fc.stringMatching(/^[\x20-\x7e]{1,40}$/).map(encodeURIComponent), weight: 2 },
          ),
          fc.array(fc.tuple(names, values), { maxLength: 4 }),
          fc.record(
            {
              authorization: fc.oneof(
                { arbitrary: fc.constant(`Bearer ${TOKEN}`), weight: 6 },
                { arbitrary: fc.constantFrom("Bearer wrong", "Basic x", ""), weight: 1 },
              ),
              accept: fc.constantFrom("text/event-stream", "*/*", "application/json", "text/*;q=0.1", ""),
              // Values an HTTP/2 client can send at all (others fail in the client, before the hub).
              "last-event-id": values.filter((value) => /^[\x20-\x7e]*$/.test(value)),
              "content-type": fc.constantFrom(
                "application/json",
                "text/plain",
                "application/json; charset=utf-8",
              ),
            },
            { requiredKeys: [] },
          ),
          fc.oneof(fc.constant(undefined), fc.constantFrom("1", "{", '{"$channel":1}', ""), fc.json()),
          async (method, path, pairs, extra, body) => {
            const query = new URLSearchParams(pairs).toString();
            // A path with characters HTTP/2 refuses to send is the client's error, not the hub's.
            const target = `${PUBSUB_PATH}${path.replace(/[^\x21-\x7e]/g, encodeURIComponent)}${query === "" ? "" : `?${query}`}`;
            const headers: Record<string, string> = { ":method": method, ":path": target };
            for (const [name, value] of Object.entries(extra)) if (value !== "") headers[name] = value;
            const status = await exchange(headers, method === "GET" || method === "HEAD" ? undefined : body);
            expect(STATUSES, `${method} ${target} ${JSON.stringify(extra)}`).toContain(status);
            seen.set(status, (seen.get(status) ?? 0) + 1);
          },
        ),
        fuzzParameters("pubsub-sse hostile requests", 150),
      );
      // The inputs reach past the refusals: streams opened and messages were published.
      expect(seen.get(200) ?? 0, JSON.stringify([...seen])).toBeGreaterThan(0);
      expect(seen.get(400) ?? 0, JSON.stringify([...seen])).toBeGreaterThan(0);
      // Every stream was cut by its client: the hub lets go of each subscription.
      await within(
        (async () => {
          while ((await hub.channels()).some((channel) => channel.subscribers > 0))
            await new Promise((resolve) => setTimeout(resolve, 20));
        })(),
        10_000,
        "every subscription to be released",
      );
    },
    timeLimit(60_000),
  );
});
