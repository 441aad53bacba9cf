// Pub/sub over HTTP at its channel limit, over real TLS: a POST to a new channel when every
// channel in use has subscribers (none idle to forget) is refused with 503 ELIMIT — not a 500 —
// and reported to `onRefused` with the pubsub face, like the other refusals an operator watches.
import { request } from "node:https";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, type HttpsRefusal, type Subscription } from "../../index.js";
import { startHub, type HttpsFixture } from "./helpers.js";
import { until } from "../helpers/until.js";

let fixture: HttpsFixture;
let held: Subscription;
const refusals: HttpsRefusal[] = [];

/** POSTs `body` (JSON) to `path`: the status and the body of the answer. */
function post(path: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const sent = request(
      `${fixture.listener.url}${path}`,
      { method: "POST", ca: fixture.listener.certificate, headers: { "content-type": "application/json" } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (chunk: string) => (text += chunk));
        response.on("end", () => resolve({ status: response.statusCode!, body: text }));
      },
    );
    sent.setTimeout(10_000, () => sent.destroy(new Error(`no answer to POST ${path}`)));
    sent.on("error", reject);
    sent.end(body);
  });
}

beforeAll(async () => {
  fixture = await startHub(
    { onRefused: (refusal) => refusals.push(refusal) },
    new Hub({ pubsub: { maxChannels: 1 } }),
  );
  // The one channel allowed is in use: it has a subscriber, so it is never forgotten.
  held = fixture.hub.subscribe("busy");
});

afterAll(async () => {
  held?.close();
  await fixture?.close();
});

describe("pub/sub over HTTP at its channel limit", () => {
  it("refuses a publish to another channel with 503 ELIMIT, reported with the pubsub face", async () => {
    const answer = await post("/beamhub/v1/pubsub/another", '"hello"');
    expect(answer.status).toBe(503);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "ELIMIT" });
    await until(() => refusals.length >= 1, 5000, "the refusal report");
    expect(refusals[0]).toMatchObject({
      status: 503,
      code: "ELIMIT",
      method: "POST",
      path: "/beamhub/v1/pubsub/another",
      face: "pubsub",
      reason: expect.stringMatching(/maxChannels/),
    });
    // The channel in use still takes messages.
    expect((await post("/beamhub/v1/pubsub/busy", '"still here"')).status).toBe(200);
  });
});
