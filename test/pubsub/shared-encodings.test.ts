/**
 * The hub encodes a publication once and keeps its bytes for the turn in a slot by seq: two
 * channels publishing the same seqs in the same turn share slots, and a remote subscriber of
 * each must still get its own channel's messages (a real hub on a real Unix socket).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Hub } from "../../hub/hub.js";
import { connectUnix } from "../../hub/remote/connect-unix.js";
import { listenUnix } from "../../hub/remote/listen-unix.js";
import type { Lagged, PubSubMessage, Subscription } from "../../pubsub/index.js";
import { within } from "../compliance/suite.js";

const dir = mkdtempSync(join(tmpdir(), "beamhub-pubsub-slots-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function take(subscription: AsyncIterable<PubSubMessage | Lagged>, count: number): Promise<unknown[]> {
  const data: unknown[] = [];
  for await (const item of subscription) {
    if ("lagged" in item) throw new Error(`lagged ${item.lagged}`);
    data.push(item.data);
    if (data.length === count) break;
  }
  return data;
}

describe("encoded once, shared for the turn", () => {
  it("two channels with the same seqs in one turn: each subscriber gets its own channel's data", async () => {
    const hub = new Hub();
    const listener = await listenUnix(hub, join(dir, "hub.sock"));
    const clients = [await connectUnix(join(dir, "hub.sock"), { reconnect: false })];
    clients.push(await connectUnix(join(dir, "hub.sock"), { reconnect: false }));
    try {
      const subscriptions: Subscription[] = [];
      for (const client of clients) {
        for (const channel of ["a", "b"]) {
          const subscription = client.subscribe(channel, { history: false, lag: "wait" });
          await within(subscription.ready, 10_000, `subscription to ${channel}`);
          subscriptions.push(subscription as Subscription);
        }
      }
      // Interleaved in one turn: seq n of "a" and seq n of "b" land in the same slot.
      const published: Promise<unknown>[] = [];
      for (let n = 0; n < 300; n++) {
        published.push(
          Promise.resolve(hub.publish("a", `a${n}`)),
          Promise.resolve(hub.publish("b", `b${n}`)),
        );
      }
      await within(Promise.all(published), 10_000, "the publications");
      const expected = (channel: string): string[] => Array.from({ length: 300 }, (_, n) => `${channel}${n}`);
      const read = await within(
        Promise.all(subscriptions.map((subscription) => take(subscription, 300))),
        20_000,
        "every message",
      );
      expect(read).toEqual([expected("a"), expected("b"), expected("a"), expected("b")]);
    } finally {
      for (const client of clients) await client.close();
      await listener.close();
      await hub.close();
    }
  });
});
