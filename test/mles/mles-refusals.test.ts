// The Mles face's refusals as structured reports (`onRefused`, what `serve` logs as
// https.refused with face "mles"), over real wss://: an origin not allowed (403 EORIGIN), a
// header whose auth fails (401 EMLES_AUTH), a member the access rules keep out (403
// EMLES_FORBIDDEN, as its mles:<uid> identity); at most one report per kind per interval, with
// the count left out; never the header's auth, the key or the query.
import { afterEach, describe, expect, it } from "vitest";
import type { HttpsRefusal } from "../../index.js";
import { mlesAuth } from "../../mles/auth.js";
import { mlesFixture, type MlesFixture } from "./fixture.js";
import { until } from "../helpers/until.js";

const KEY = "mles-key-45c48cce";

let fixture: MlesFixture | undefined;

afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

/** Waits (bounded) until `reports` holds `n` refusals. */
const reported = (reports: HttpsRefusal[], n: number): Promise<void> =>
  until(() => reports.length >= n, 5000, `${n} refusal reports`);

describe("the Mles face's refusal reports", () => {
  it("reports an origin not allowed, a failed auth and a member the access rules keep out", async () => {
    const reports: HttpsRefusal[] = [];
    fixture = await mlesFixture({
      key: KEY,
      allowOrigins: ["https://chat.example"],
      onRefused: (refusal) => reports.push(refusal),
    });
    fixture.hub.authorize({
      subscribe: (identity, channel) => identity?.id === "mles:alice" || channel !== "staff",
      publish: () => true,
    });
    const { join, open } = fixture;

    await expect(
      open({ headers: { origin: "https://evil.example" }, path: "/chat?token=in-the-query" }),
    ).rejects.toThrow(/HTTP 403/);
    await reported(reports, 1);
    expect(reports[0]).toEqual({
      status: 403,
      code: "EORIGIN",
      reason: "origin https://evil.example may not use this hub's Mles face",
      method: "GET",
      path: "/chat",
      address: "127.0.0.1",
      transport: "websocket",
      face: "mles",
      suppressed: 0,
    });

    const guessed = mlesAuth("mallory", "example", "guessed-key");
    const mallory = await join("mallory", "example", { auth: guessed });
    expect((await mallory.closedWithin()).reason).toMatch(/^EMLES_AUTH: auth does not match/);
    await reported(reports, 2);
    expect(reports[1]).toMatchObject({
      status: 401,
      code: "EMLES_AUTH",
      reason: "auth does not match",
      face: "mles",
    });
    expect(reports[1]!.identity).toBeUndefined(); // a uid without a valid auth proves nothing

    const bob = await join("bob", "staff", { auth: mlesAuth("bob", "staff", KEY) });
    expect((await bob.closedWithin()).reason).toMatch(/^EMLES_FORBIDDEN/);
    await reported(reports, 3);
    expect(reports[2]).toMatchObject({
      status: 403,
      code: "EMLES_FORBIDDEN",
      identity: "mles:bob",
      path: "/",
      transport: "websocket",
      face: "mles",
    });

    const text = JSON.stringify(reports);
    for (const secret of [KEY, guessed, mlesAuth("bob", "staff", KEY), "in-the-query"])
      expect(text).not.toContain(secret);
  });

  it("reports a uid already in its channel (409) and a full channel (503), as the member's identity", async () => {
    const reports: HttpsRefusal[] = [];
    fixture = await mlesFixture({
      key: KEY,
      maxMembersPerChannel: 1,
      onRefused: (refusal) => reports.push(refusal),
    });
    const alice = await fixture.join("alice", "room", { auth: mlesAuth("alice", "room", KEY) });
    // Alice is a member once her join frame is in the channel (it goes in after she is admitted).
    const pubsub = fixture.hub.pubsub;
    await until(
      () => (pubsub.channels().find((c) => c.name === "room")?.seq ?? 0) >= 1,
      5000,
      "alice's join",
    );
    const again = await fixture.join("alice", "room", { auth: mlesAuth("alice", "room", KEY) });
    expect((await again.closedWithin()).reason).toMatch(/^EMLES_DUPLICATE/);
    await reported(reports, 1);
    expect(reports[0]).toEqual({
      status: 409,
      code: "EMLES_DUPLICATE",
      reason: 'uid "alice" is already a member of room',
      method: "GET",
      path: "/",
      address: "127.0.0.1",
      identity: "mles:alice",
      transport: "websocket",
      face: "mles",
      suppressed: 0,
    });
    const bob = await fixture.join("bob", "room", { auth: mlesAuth("bob", "room", KEY) });
    expect((await bob.closedWithin()).reason).toMatch(/^EMLES_FULL/);
    await reported(reports, 2);
    expect(reports[1]).toMatchObject({
      status: 503,
      code: "EMLES_FULL",
      reason: "channel room has its maximum of 1 members",
      identity: "mles:bob",
      face: "mles",
    });
    expect(JSON.stringify(reports)).not.toContain(mlesAuth("bob", "room", KEY));
    await alice.close();
  });

  it("reports at most one refusal of a kind per interval, then counts those left out", async () => {
    const reports: HttpsRefusal[] = [];
    fixture = await mlesFixture({ key: KEY, onRefused: (refusal) => reports.push(refusal) });
    for (let i = 0; i < 5; i++) {
      const client = await fixture.join(`guess${i}`, "example", { auth: "0" });
      await client.closedWithin();
    }
    await reported(reports, 1);
    // The four later ones were counted, not reported: the next report (in 10 s) will say so.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reports).toHaveLength(1);
    expect(reports[0]).toMatchObject({ code: "EMLES_AUTH", suppressed: 0 });
  });
});
