// Reference injection: a plain HTTP client has no session, so the JSON codec's reference forms
// in its body must never reach a service's session as references (the service's peer would end
// the whole session, taking every service that process registered with it). And no message the
// hub sends may carry a reference it did not allocate, whoever put it in the data.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Ref } from "../../codecs/reference.js";
import { connectHttps, type HttpsRemoteHub } from "../../index.js";
import { certificateFile, curl, curlVersion, startHub, type HttpsFixture } from "../http2/helpers.js";

let fixture: HttpsFixture;
let remote: HttpsRemoteHub;
let cacert: string;
const version = await curlVersion();
if (version === undefined) console.warn("skipping the curl part: no curl binary with HTTP/2 support");

beforeAll(async () => {
  fixture = await startHub();
  // The service lives across a real session (TLS, HTTP/2, frames), as in another process.
  remote = await connectHttps(fixture.listener.url, { ca: fixture.listener.certificate });
  await remote.register("echo", (data: unknown) => data);
  cacert = await certificateFile(fixture);
});

afterAll(async () => {
  await remote?.close();
  await fixture?.close();
});

const BODIES = ['{"$channel":5}', '{"$stream":0}', '{"x":{"$stream":1}}', '{"$fd":3}', '[{"$channel":2}]'];

describe.skipIf(version === undefined)("the plain HTTP mapping", () => {
  it.each(BODIES)("refuses the reference form %s with 400 and keeps the service's session", async (body) => {
    const result = await curl([
      "--http2",
      "--cacert",
      cacert,
      "-H",
      "content-type: application/json",
      "-d",
      body,
      `${fixture.listener.url}/beamhub/v1/call/echo`,
    ]);
    expect(result.status).toBe(400);
    const error = JSON.parse(result.body) as { code: string; message: string };
    expect(error.code).toBe("EINVALID_JSON");
    expect(error.message).toMatch(/is a reference.*carries data only/);
    // The service is still registered and answers.
    expect(await fixture.hub.call("echo", { still: "here" })).toEqual({ still: "here" });
  });

  it("passes an escaped reference form through as plain data", async () => {
    const result = await curl([
      "--http2",
      "--cacert",
      cacert,
      "-H",
      "content-type: application/json",
      "-d",
      '{"$":{"$channel":5}}',
      `${fixture.listener.url}/beamhub/v1/call/echo`,
    ]);
    expect(result.status).toBe(200);
    expect(JSON.parse(result.body)).toEqual({ $: { $channel: 5 } });
  });
});

describe("a session", () => {
  it("refuses to send a bare Ref it did not allocate, failing only that message", async () => {
    for (const data of [new Ref("channel", 5), { deep: [new Ref("stream", 1)] }, new Ref("fd", 0)]) {
      await expect(fixture.hub.call("echo", data)).rejects.toMatchObject({
        code: "EINVALID_MESSAGE",
        message: expect.stringMatching(/bare reference/) as unknown,
      });
    }
    expect(await fixture.hub.call("echo", 42)).toBe(42);
    expect((await fixture.hub.lookup("echo")).length).toBe(1);
  });
});
