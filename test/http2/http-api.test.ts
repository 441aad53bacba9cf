// The plain HTTP mapping, driven by the real curl binary over HTTP/2 (and HTTP/1.1): a service
// can be poked without a beamhub client, and errors come back as JSON with fitting statuses.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_CALL_TIMEOUT } from "../../internal.js";
import { certificateFile, curl, curlVersion, startHub, type HttpsFixture } from "./helpers.js";

let fixture: HttpsFixture;
let cacert: string;
let base: string;
const version = await curlVersion();
if (version === undefined)
  console.warn("skipping the curl tests: no curl binary with HTTP/2 support (apt-get install curl)");

beforeAll(async () => {
  fixture = await startHub();
  const { hub } = fixture;
  await hub.register("echo", (data: unknown) => data);
  await hub.register("greet", (data: { name: string }) => ({ greeting: `hello ${data.name}` }));
  await hub.register("math.sqrt", (n: number) => {
    if (n < 0) throw Object.assign(new RangeError("negative"), { code: "ENEGATIVE", details: { got: n } });
    return Math.sqrt(n);
  });
  await hub.register("slow", () => new Promise((resolve) => setTimeout(() => resolve("late"), 2000)));
  await hub.register("bytes", () => new Uint8Array([1, 2, 3]));
  await hub.register("deadline", (_data: unknown, context: { deadline: number | undefined }) =>
    context.deadline === undefined ? null : context.deadline - Date.now(),
  );
  cacert = await certificateFile(fixture);
  base = `${fixture.listener.url}/beamhub/v1`;
});

afterAll(async () => {
  await fixture?.close();
});

const post = (path: string, body: string, ...extra: string[]): string[] => [
  "--http2",
  "--cacert",
  cacert,
  "-H",
  "content-type: application/json",
  "-d",
  body,
  ...extra,
  `${base}${path}`,
];

describe.skipIf(version === undefined)("curl --http2", () => {
  it("POSTs a JSON body to a service and gets its JSON reply", async () => {
    const result = await curl(post("/call/greet", '{"name":"curl"}'));
    expect(result).toMatchObject({ status: 200, version: "2" });
    expect(JSON.parse(result.body)).toEqual({ greeting: "hello curl" });
  });

  it("sends binary data in FORMATS.md's JSON form", async () => {
    const result = await curl(post("/call/bytes", ""));
    expect(JSON.parse(result.body)).toEqual({ $bytes: "AQID" });
  });

  it("maps a missing service to 404 with a JSON error", async () => {
    const result = await curl(post("/call/nobody.here", "{}"));
    expect(result.status).toBe(404);
    expect(JSON.parse(result.body)).toMatchObject({
      name: "ServiceNotFoundError",
      code: "ESERVICE_NOT_FOUND",
    });
  });

  it("maps a handler's error to 500 with its name, code and details", async () => {
    const result = await curl(post("/call/math.sqrt", "-4"));
    expect(result.status).toBe(500);
    expect(JSON.parse(result.body)).toMatchObject({
      name: "RangeError",
      message: "negative",
      code: "ENEGATIVE",
      details: { got: -4 },
      service: "math.sqrt",
    });
  });

  it("maps a timeout (beamhub-timeout header) to 504", async () => {
    const result = await curl(post("/call/slow", "null", "-H", "beamhub-timeout: 100"));
    expect(result.status).toBe(504);
    expect(JSON.parse(result.body)).toMatchObject({ name: "CallTimeoutError", code: "ETIMEOUT" });
  });

  it("clamps a timeout above MAX_CALL_TIMEOUT (2^31-1 ms), then to the hub's bound on peer calls", async () => {
    // The mapping's clamp keeps timers sane; the hub then bounds every remote peer's call by
    // its maxPeerCallTimeout (one hour by default).
    const bound = fixture.hub.maxPeerCallTimeout;
    expect(bound).toBeLessThan(MAX_CALL_TIMEOUT);
    for (const value of ["3000000000", "9007199254740993", "1e300"]) {
      const result = await curl(post("/call/deadline", "null", "-H", `beamhub-timeout: ${value}`));
      expect(result.status).toBe(200);
      const left = JSON.parse(result.body) as number;
      expect(left).toBeLessThanOrEqual(bound);
      expect(left).toBeGreaterThan(bound - 60_000);
    }
    const query = await curl(post("/call/deadline?timeout=3000000000", "null"));
    expect(JSON.parse(query.body)).toBeLessThanOrEqual(bound);
  });

  it("refuses a timeout that is not a positive integer with 400", async () => {
    for (const value of ["1.5", "-3", "0", "abc", "Infinity", "1e400"]) {
      const result = await curl(post("/call/deadline", "null", "-H", `beamhub-timeout: ${value}`));
      expect(result.status, value).toBe(400);
      expect(JSON.parse(result.body)).toMatchObject({ code: "EINVALID_ARGUMENT" });
    }
  });

  it("maps an invalid name, invalid JSON and a wrong method to 400/405", async () => {
    const name = await curl(post("/call/%20bad%20name", "{}"));
    expect(name.status).toBe(400);
    expect(JSON.parse(name.body)).toMatchObject({ code: "EINVALID_NAME" });
    const json = await curl(post("/call/echo", "{not json"));
    expect(json.status).toBe(400);
    expect(JSON.parse(json.body)).toMatchObject({ code: "EINVALID_JSON" });
    const method = await curl(["--http2", "--cacert", cacert, `${base}/call/echo`]);
    expect(method.status).toBe(405);
  });

  it("lists services with GET, filtered by prefix", async () => {
    const result = await curl(["--http2", "--cacert", cacert, `${base}/services?prefix=math.`]);
    expect(result.status).toBe(200);
    const services = JSON.parse(result.body) as { name: string }[];
    expect(services.map((service) => service.name)).toEqual(["math.sqrt"]);
  });

  it("answers the same mapping over HTTP/1.1", async () => {
    const result = await curl(post("/call/echo", '{"over":"h1"}', "--http1.1"));
    expect(result).toMatchObject({ status: 200, version: "1.1" });
    expect(JSON.parse(result.body)).toEqual({ over: "h1" });
  });

  it("answers 404 outside its routes and 505 for a session over HTTP/1.1", async () => {
    expect((await curl(["--http2", "--cacert", cacert, `${base}/nothing`])).status).toBe(404);
    expect((await curl(post("/session", "", "--http1.1"))).status).toBe(505);
  });
});
