/**
 * The Mles face under hostile first frames, over real wss://: bad JSON, invalid UTF-8, binary,
 * huge frames, headers with wrong types, empty, non-ASCII, control characters, oversized fields.
 * Every connection that is not a valid header is closed with a clear code (1003, 1007, 1008,
 * 1009) and, where the face chose it, an `EMLES_HEADER` reason; one that is valid joins. After
 * the storm the hub holds no connection, a member joins and sees only the valid joins, and
 * beamhub's own WebSocket still serves.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MlesHeaderError } from "../../mles/errors.js";
import { parseMlesHeader } from "../../mles/header.js";
import { MAX_CHANNEL_LENGTH } from "../../pubsub/index.js";
import { mlesFixture, type MlesFixture } from "../mles/fixture.js";
import { fuzzParameters, timeLimit } from "./settings.js";

const MAX_FRAME = 4096;
let fixture: MlesFixture;

beforeAll(async () => {
  fixture = await mlesFixture({ maxFrameSize: MAX_FRAME, headerTimeout: 5000 });
});

afterAll(async () => {
  await fixture?.close();
});

type Hostile =
  | { kind: "text"; bytes: Uint8Array }
  | { kind: "binary"; bytes: Uint8Array }
  | { kind: "json"; text: string }
  | { kind: "huge"; size: number };

const field = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 10 }),
  fc.constantFrom("", " ", "a\nb", "é", "\u0000", "x".repeat(300), "y".repeat(MAX_CHANNEL_LENGTH + 1)),
  fc.integer(),
  fc.constant(null),
  fc.array(fc.string({ maxLength: 3 }), { maxLength: 2 }),
  fc.dictionary(fc.string({ maxLength: 3 }), fc.string({ maxLength: 3 }), { maxKeys: 2 }),
);

const headerLike = fc
  .record({ uid: field, channel: field, auth: fc.option(field, { nil: undefined }) }, { requiredKeys: [] })
  .map((header) => JSON.stringify(header));

const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  fc.record({ kind: fc.constant("text" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({ kind: fc.constant("binary" as const), bytes: fc.uint8Array({ maxLength: 64 }) }),
  fc.record({
    kind: fc.constant("json" as const),
    text: fc.oneof(
      headerLike,
      headerLike.chain((text) => fc.nat(text.length).map((cut) => text.slice(0, cut))), // truncated
      fc.json({ maxDepth: 3 }),
      fc.constantFrom("[".repeat(3000), '{"uid":"a","channel":"c"'.padEnd(200, " "), "\ufeff{}", "{}"),
    ),
  }),
  fc.record({
    kind: fc.constant("huge" as const),
    size: fc.integer({ min: MAX_FRAME + 1, max: 4 * MAX_FRAME }),
  }),
);

/** What the face must do with it: `undefined` to join, or the close codes allowed. */
function expected(frame: Hostile): readonly number[] | undefined {
  if (frame.kind === "huge") return [1009];
  if (frame.kind === "binary") return [1003];
  const bytes = frame.kind === "json" ? Buffer.from(frame.text) : Buffer.from(frame.bytes);
  if (bytes.length > MAX_FRAME) return [1009];
  if (!isUtf8(bytes)) return [1007];
  try {
    const header = parseMlesHeader(bytes, false);
    if (header.channel.length > MAX_CHANNEL_LENGTH) return [1008];
    if (header.auth !== undefined) return [1008]; // no key: a random auth does not match
    return undefined;
  } catch (error) {
    if (!(error instanceof MlesHeaderError)) throw error;
    return [error.closeCode];
  }
}

function isUtf8(bytes: Buffer): boolean {
  try {
    new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return true;
  } catch {
    return false;
  }
}

describe("the Mles face under hostile first frames", () => {
  const joined = new Set<string>();

  it(
    "closes each with a clear code, admits only valid headers",
    async () => {
      await fc.assert(
        fc.asyncProperty(hostile, async (frame) => {
          const client = await fixture.open();
          try {
            if (frame.kind === "huge") client.ws.send("h".repeat(frame.size));
            else if (frame.kind === "binary") client.ws.send(frame.bytes, { binary: true });
            else if (frame.kind === "text") client.ws.send(Buffer.from(frame.bytes), { binary: false });
            else client.ws.send(frame.text);
            const codes = expected(frame);
            if (codes === undefined) {
              const header = parseMlesHeader(frame.kind === "json" ? frame.text : "", false);
              if (joined.has(`${header.uid}\n${header.channel}`)) return; // a repeat: refused as duplicate, fine
              joined.add(`${header.uid}\n${header.channel}`);
              return;
            }
            const closed = await client.closedWithin(10_000);
            expect(
              codes,
              `${JSON.stringify(frame).slice(0, 200)} -> ${closed.code} ${closed.reason}`,
            ).toContain(closed.code);
            if (closed.code === 1003 || closed.code === 1008)
              expect(closed.reason).toMatch(/^EMLES_HEADER: /);
          } finally {
            await client.close();
          }
        }),
        fuzzParameters("mles hostile first frames", 60),
      );
    },
    timeLimit(60_000),
  );

  it("leaves the hub as it was: no connection held, members join, beamhub serves", async () => {
    const deadline = Date.now() + 10_000;
    while (fixture.face.connectionCount > 0 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    expect(fixture.face.connectionCount).toBe(0);
    expect(fixture.face.memberCount()).toBe(0);
    const alice = await fixture.join("alice", "after-the-storm");
    const bob = await fixture.join("bob", "after-the-storm");
    alice.send("calm");
    expect(await bob.texts(2)).toEqual([
      JSON.stringify({ uid: "alice", channel: "after-the-storm" }),
      "calm",
    ]);
    await fixture.beamhubStillServes();
  });
});
