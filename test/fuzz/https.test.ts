// Fuzzing `beamhub serve`'s HTTPS port, everything a remote peer reaches: session bodies on
// HTTP/2 streams and in WebSocket messages (mutated real sessions, judged by PING/GOAWAY), the
// plain HTTP mapping (paths, headers, bodies), HTTP/2 frames (a real client's recorded bytes,
// mutated, under TLS) and the TLS handshake (mutated and truncated ClientHellos). After each
// batch the process is up, an HTTPS bystander's call round-trips and stderr is clean; at the
// end, fds and memory are back near the baseline.
import { connect as http2Connect, type ClientHttp2Session, type IncomingHttpHeaders } from "node:http2";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectHttps, type HttpsRemoteHub } from "../../index.js";
import {
  BASE_PATH,
  CALL_PATH,
  SERVICES_PATH,
  SESSION_PATH,
  TIMEOUT_HEADER,
  WEBSOCKET_PATH,
} from "../../transports/http2/paths.js";
import { within } from "../compliance/suite.js";
import { fuzzHostileOperations } from "./hostile-operations.js";
import { concat, mutatedBytes, mutatedSession } from "./mutate.js";
import { judge, rawHttp2Stream, rawWebSocket, type Verdict } from "./raw-session.js";
import { fuzzParameters, timeLimit } from "./settings.js";
import { startFuzzTarget, type FuzzTarget } from "./target.js";
import { recordClientHello, recordHttp2 } from "./tls-traffic.js";
import { recordTraffic, type RecordedSession } from "./traffic.js";

let target: FuzzTarget;
let bystander: HttpsRemoteHub;
let sessions: RecordedSession[];
let http2Recordings: Uint8Array[];
let clientHellos: Uint8Array[];

beforeAll(async () => {
  target = await startFuzzTarget();
  bystander = await connectHttps(target.server.httpsUrl, { ca: target.ca });
  sessions = await recordTraffic(target.socket, join(target.socket, "..", "proxy.sock"));
  http2Recordings = await recordHttp2(
    target.server.httpsUrl,
    target.certDir,
    target.ca,
    target.bystanderService,
  );
  clientHellos = [await recordClientHello(["h2", "http/1.1"]), await recordClientHello(["http/1.1"])];
  await target.takeBaseline();
});

afterAll(async () => {
  await bystander?.close();
  await target?.close();
});

const CODE = /^E[A-Z0-9_]+$/;
const tally = <T>(counts: Map<T, number>, key: T): void => void counts.set(key, (counts.get(key) ?? 0) + 1);

async function checkpoint(what: string): Promise<void> {
  target.checkHealthy();
  await target.roundTrip(bystander, what);
}

/** One HTTP/2 connection to the hub, replaced when the hub (rightly) closes it. */
function http2Client(): { (): ClientHttp2Session; state(): string } {
  let session: ClientHttp2Session | undefined;
  let events: string[] = [];
  const client = (): ClientHttp2Session => {
    if (session === undefined || session.closed || session.destroyed) {
      session = http2Connect(target.server.httpsUrl, { ca: target.ca });
      events = [];
      const current = session;
      current.on("error", (error: Error) => events.push(`error ${error.message}`));
      current.on("goaway", (code: number, lastStreamId: number) =>
        events.push(`GOAWAY ${code} last ${lastStreamId}`),
      );
      current.on("close", () => events.push("closed"));
    }
    return session;
  };
  /** What happened to the HTTP/2 connection, for a finding's message. */
  client.state = () =>
    `HTTP/2 connection: ${events.join(", ") || "open"}, ${JSON.stringify(session?.state ?? {})}`;
  return client;
}

describe("beamhub serve over HTTPS under fuzz", () => {
  it(
    "answers mutated sessions on HTTP/2 streams with PONG or a GOAWAY with a code",
    async () => {
      const client = http2Client();
      const verdicts = new Map<Verdict, number>();
      let runs = 0;
      await fc.assert(
        fc.asyncProperty(
          mutatedSession(sessions.map((session) => session.sentFrames)),
          fc.array(fc.nat(), { maxLength: 3 }),
          async (input, cuts) => {
            const verdict = await judge(rawHttp2Stream(client()), input, cuts).catch((error: Error) => {
              throw new Error(`${error.message}; ${client.state()}`, { cause: error });
            });
            tally(verdicts, verdict);
            if (++runs % 50 === 0) await checkpoint(`after ${runs} HTTP/2 sessions`);
          },
        ),
        { ...fuzzParameters("http2 mutated sessions", 80), endOnFailure: true },
      );
      client().destroy();
      expect(verdicts.get("goaway") ?? 0).toBeGreaterThan(0);
      expect(verdicts.get("alive") ?? 0).toBeGreaterThan(0);
      await checkpoint("after the HTTP/2 sessions");
    },
    timeLimit(40_000),
  );

  it(
    "answers mutated sessions in WebSocket messages with PONG or a GOAWAY with a code",
    async () => {
      const verdicts = new Map<Verdict, number>();
      await fc.assert(
        fc.asyncProperty(
          mutatedSession(sessions.map((session) => session.sentFrames)),
          fc.array(fc.nat(), { maxLength: 3 }),
          async (input, cuts) => {
            tally(verdicts, await judge(await rawWebSocket(target.server.httpsUrl, target.ca), input, cuts));
          },
        ),
        { ...fuzzParameters("websocket mutated sessions", 30), endOnFailure: true },
      );
      expect(verdicts.get("goaway") ?? 0).toBeGreaterThan(0);
      await checkpoint("after the WebSocket sessions");
    },
    timeLimit(40_000),
  );

  it.each([
    ["HTTP/2", "http2"],
    ["WebSocket", "websocket"],
  ] as const)(
    "refuses hub operations with hostile arguments over %s with typed errors, and the session lives on",
    async (name, transport) => {
      const { refused } = await fuzzHostileOperations(
        `${transport} hostile operations`,
        12,
        () => connectHttps(target.server.httpsUrl, { ca: target.ca, transport }),
        checkpoint,
      );
      expect(refused, name).toBeGreaterThan(0);
    },
    timeLimit(40_000),
  );

  it(
    "answers any request to the plain HTTP mapping with a status and, for a refusal, a JSON {code}",
    async () => {
      const client = http2Client();
      const statuses = new Map<number, number>();
      await fc.assert(
        fc.asyncProperty(plainRequest(), async (request) => {
          const { status, headers, body } = await send(client(), request);
          tally(statuses, status);
          const what = `${request.method} ${request.path} (${JSON.stringify(request.headers)}; ${request.body?.length ?? 0} bytes) -> ${status} ${body.slice(0, 300)}`;
          expect(status, `a 500 for bad input: ${what}`).not.toBe(500);
          // Outside beamhub's prefix the path is the host server's (attach.ts answers a plain 404).
          if (!request.path.startsWith(`${BASE_PATH}/`)) {
            expect(status, what).toBe(404);
            return;
          }
          if (status >= 400 && request.method !== "HEAD") {
            expect(String(headers["content-type"]), what).toMatch(/^application\/json/);
            const error = JSON.parse(body) as { code?: unknown };
            expect(
              typeof error.code === "string" && CODE.test(error.code),
              `an untyped refusal: ${what}`,
            ).toBe(true);
          }
          // A 200 on the session path is a session (its body is frames, PROTOCOL.md), not JSON.
          const session = request.path.split("?")[0] === SESSION_PATH;
          if (status === 200 && request.method !== "HEAD" && !session)
            expect(() => JSON.parse(body) as unknown, what).not.toThrow();
        }),
        { ...fuzzParameters("plain http mapping", 120), endOnFailure: true },
      );
      client().destroy();
      expect(statuses.get(200) ?? 0).toBeGreaterThan(0);
      expect([...statuses.keys()].some((status) => status >= 400)).toBe(true);
      await checkpoint("after the plain HTTP requests");
    },
    timeLimit(40_000),
  );

  it(
    "survives garbage, mutated and truncated ClientHellos on the TLS port",
    async () => {
      const endings = new Map<string, number>();
      const hello = fc.oneof(
        mutatedBytes(clientHellos, 6),
        fc
          .tuple(fc.constantFrom(...clientHellos), fc.nat())
          .map(([bytes, at]) => bytes.slice(0, at % bytes.length)),
        fc.uint8Array({ minLength: 1, maxLength: 600 }),
        fc
          .uint8Array({ maxLength: 300 })
          .map((tail) => concat([Uint8Array.of(0x16, 0x03, 0x01, 0xff, 0xff), tail])),
      );
      await fc.assert(
        fc.asyncProperty(fc.array(hello, { minLength: 10, maxLength: 10 }), async (inputs) => {
          for (const ending of await Promise.all(inputs.map((input) => rawTcp(input))))
            tally(endings, ending);
          await checkpoint("after a batch of hostile ClientHellos");
        }),
        { ...fuzzParameters("tls client hello", 5, 10), endOnFailure: true },
      );
      console.log(`ClientHello fuzz: ${JSON.stringify(Object.fromEntries(endings))}`);
      expect(endings.get("closed by the hub") ?? 0).toBeGreaterThan(0);
    },
    timeLimit(40_000),
  );

  it(
    "is still up with fds and memory back near the baseline and a clean stderr",
    async () => {
      await checkpoint("at the end");
      const { fds, rss, baseline } = await target.checkBaseline();
      console.log(
        `https fuzz: fds ${baseline.fds} -> ${fds}, RSS ${(baseline.rss / 2 ** 20).toFixed(0)} -> ${(rss / 2 ** 20).toFixed(0)} MiB`,
      );
      target.checkHealthy();
    },
    timeLimit(30_000),
  );
  it(
    "survives mutated HTTP/2 frames from a real client",
    async () => {
      const endings = new Map<string, number>();
      await fc.assert(
        fc.asyncProperty(
          fc.array(mutatedBytes(http2Recordings, 8), { minLength: 8, maxLength: 8 }),
          async (inputs) => {
            for (const ending of await Promise.all(inputs.map((input) => rawTls(input, ["h2"]))))
              tally(endings, ending);
            await checkpoint("after a batch of mutated HTTP/2 connections");
          },
        ),
        { ...fuzzParameters("http2 frames", 6, 8), endOnFailure: true },
      );
      console.log(`HTTP/2 frame fuzz: ${JSON.stringify(Object.fromEntries(endings))}`);
    },
    timeLimit(40_000),
  );

  // Known finding (test/fuzz/https-findings.test.ts): node:http2 keeps a socket whose client closed
  // in the middle of an oversized frame after a session request; some of the mutated
  // connections above are such, so the hub's fds do not come back until transports/http2
  // destroys a session whose socket is gone.
  it.fails(
    "is back near its fd baseline after the mutated HTTP/2 connections",
    async () => {
      await target.checkBaseline(1500);
    },
    timeLimit(30_000),
  );
});

// ---- the plain HTTP mapping -------------------------------------------------------------------

interface PlainRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);

const JSON_BODIES = [
  '{"x":[1,2,{"y":"z"}]}',
  '"text"',
  "null",
  '{"$channel":5}',
  '{"x":{"$stream":1}}',
  '{"$fd":0}',
  '{"$":{"$channel":5}}',
  '{"$bytes":"AAEC/w=="}',
  '{"$bigint":"18446744073709551616"}',
  '{"__proto__":{"polluted":true}}',
  "[" + "[".repeat(3000) + "]".repeat(3000) + "]",
].map(utf8);

/** `value` one time in five, otherwise no value. */
function rarely<T>(value: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: value });
}

function plainRequest(): fc.Arbitrary<PlainRequest> {
  const service = fc.oneof(
    fc.constantFrom(
      "bystander.echo",
      "hub.info",
      "nobody",
      "",
      "%",
      "%ZZ",
      "a%00b",
      "..%2F..%2Fetc",
      "a".repeat(3000),
      "bystander.echo/extra",
    ),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
  );
  const hostile = fc.oneof(
    fc.constantFrom(
      "0",
      "-1",
      "1",
      "3000000000",
      "1e400",
      "NaN",
      "9".repeat(400),
      "12abc",
      " 5 ",
      "0x10",
      "",
      "Infinity",
    ),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
  );
  const path = fc.oneof(
    { weight: 5, arbitrary: service.map((name) => `${CALL_PATH}${name}`) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(service, hostile)
        .map(([name, timeout]) => `${CALL_PATH}${name}?timeout=${encodeURIComponent(timeout)}`),
    },
    {
      weight: 2,
      arbitrary: fc
        .tuple(hostile, hostile)
        .map(
          ([prefix, name]) =>
            `${SERVICES_PATH}?prefix=${encodeURIComponent(prefix)}&name=${encodeURIComponent(name)}`,
        ),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        SERVICES_PATH,
        "/beamhub/v1",
        "/beamhub/v1/",
        "/beamhub/v1/call",
        SESSION_PATH,
        WEBSOCKET_PATH,
        "/",
        "/beamhub/v2/call/x",
        "/beamhub/v1/../v1/services",
        "/beamhub/v1/services/../call/bystander.echo",
      ),
    },
  );
  // Header values with whitespace at either end are not valid HTTP/2 field values: node:http2
  // refuses them itself (RST_STREAM PROTOCOL_ERROR) before the hub sees the request.
  const headerValue = hostile.filter((value) => value === value.trim());
  const headers = fc
    .record(
      {
        // Mostly JSON, which the mapping requires (anything else is a 415), so that calls get through.
        "content-type": fc.oneof(
          { weight: 6, arbitrary: fc.constantFrom("application/json", "application/json; charset=utf-8") },
          {
            weight: 2,
            arbitrary: fc.constantFrom(
              "text/plain",
              "application/beamhub",
              "",
              "multipart/form-data; boundary=x",
            ),
          },
        ),
        [TIMEOUT_HEADER]: headerValue,
        // Rare, each of them: a foreign Origin is a 403 and a credential the hub does not know a
        // 401, before the request reaches a service.
        origin: rarely(fc.constantFrom("https://evil.example", "null", "https://localhost")),
        authorization: rarely(
          fc.constantFrom("Bearer x", "Basic Zm9vOmJhcg==", "Bearer " + "a".repeat(2000)),
        ),
      },
      { requiredKeys: ["content-type"] },
    )
    .map(
      (record) =>
        Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined)) as Record<
          string,
          string
        >,
    );
  const body = fc.oneof(
    fc.constant(undefined),
    fc.constantFrom(...JSON_BODIES),
    mutatedBytes(JSON_BODIES, 4),
    fc.uint8Array({ maxLength: 2048 }),
  );
  return fc.record({
    method: fc.constantFrom(
      "POST",
      "POST",
      "POST",
      "GET",
      "GET",
      "PUT",
      "DELETE",
      "OPTIONS",
      "HEAD",
      "PATCH",
    ),
    path,
    headers,
    body,
  });
}

/** Sends `request` on `session`; the answer must come within 5 s. */
function send(
  session: ClientHttp2Session,
  request: PlainRequest,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  const stream = session.request(
    { ":method": request.method, ":path": request.path, ...request.headers },
    { endStream: request.body === undefined },
  );
  if (request.body !== undefined) stream.end(request.body);
  return within(
    new Promise((resolve, reject) => {
      let headers: IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (received) => (headers = received));
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("close", () => {
        const status = Number(headers[":status"]);
        if (Number.isNaN(status))
          reject(
            new Error(`finding: no response to ${request.method} ${request.path} (RST ${stream.rstCode})`),
          );
        else resolve({ status, headers, body: Buffer.concat(chunks).toString() });
      });
    }),
    5000,
    `an answer to ${request.method} ${request.path}`,
  );
}

// ---- raw TLS and TCP -----------------------------------------------------------------------------

/** How a raw connection ended within its time. */
type Ending = "closed by the hub" | "still open";

/** Sends `bytes` inside TLS (ALPN `alpn`) and waits a moment for the hub to close. */
function rawTls(bytes: Uint8Array, alpn: string[]): Promise<Ending> {
  const socket = tlsConnect({
    host: "127.0.0.1",
    port: Number(new URL(target.server.httpsUrl).port),
    ca: target.ca,
    servername: "localhost",
    ALPNProtocols: alpn,
  });
  socket.on("error", () => undefined);
  socket.resume();
  socket.once("secureConnect", () => socket.write(bytes));
  return endingOf(socket, 400);
}

/** Sends `bytes` on a plain TCP connection to the TLS port (what the TLS layer parses). */
function rawTcp(bytes: Uint8Array): Promise<Ending> {
  const socket = netConnect(Number(new URL(target.server.httpsUrl).port), "127.0.0.1");
  socket.on("error", () => undefined);
  socket.resume();
  socket.once("connect", () => socket.write(bytes));
  return endingOf(socket, 300);
}

function endingOf(
  socket: { once(event: "close", listener: () => void): unknown; destroy(): void },
  ms: number,
): Promise<Ending> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve("still open");
    }, ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve("closed by the hub");
    });
  });
}
