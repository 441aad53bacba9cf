/**
 * The in-process pub/sub core: tagging, numbering, history for late joiners (with no gap and no
 * duplicate at the seam), echo, both slow-subscriber policies, limits and closing.
 */
import { describe, expect, it } from "vitest";
import {
  ClosedError,
  InvalidArgumentError,
  InvalidNameError,
  LimitExceededError,
  PublishTimeoutError,
} from "../../model/errors.js";
import { Hub } from "../../hub/hub.js";
import { isLagged, PubSub } from "../../pubsub/index.js";
import type { Lagged, PubSubMessage, Subscription } from "../../pubsub/index.js";
import { RateMeter } from "../../pubsub/rate.js";

/** Reads exactly `count` items, failing (instead of hanging) after a generous bound. */
async function read(subscription: Subscription, count: number): Promise<(PubSubMessage | Lagged)[]> {
  const items: (PubSubMessage | Lagged)[] = [];
  const iterator = subscription[Symbol.asyncIterator]();
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`read ${items.length} of ${count} items`)), 10_000).unref(),
  );
  while (items.length < count) {
    const next = await Promise.race([iterator.next(), deadline]);
    if (next.done === true) throw new Error(`subscription ended after ${items.length} of ${count} items`);
    items.push(next.value);
  }
  return items;
}

const seqs = (items: (PubSubMessage | Lagged)[]): (number | string)[] =>
  items.map((item) => (isLagged(item) ? `lagged ${item.lagged}` : item.seq));

describe("PubSub", () => {
  it("tags each message with its publisher and numbers it; any codec value goes through as is", async () => {
    const pubsub = new PubSub();
    const subscription = pubsub.subscribe("room", "bob");
    const bytes = new Uint8Array([1, 2, 3]);
    const first = await pubsub.publish("room", "hello", "alice");
    await pubsub.publish("room", bytes, "carol");
    await pubsub.publish("room", { nested: [1, { x: true }] }, "alice");
    expect(first.seq).toBe(1);
    expect(first.time).toBeGreaterThan(0);
    const items = (await read(subscription, 3)) as PubSubMessage[];
    expect(items.map(({ from, data, seq }) => ({ from, data, seq }))).toEqual([
      { from: "alice", data: "hello", seq: 1 },
      { from: "carol", data: bytes, seq: 2 },
      { from: "alice", data: { nested: [1, { x: true }] }, seq: 3 },
    ]);
    expect(items[1]!.data).toBe(bytes);
    expect(items[0]!.time).toBe(first.time);
    await pubsub.close();
  });

  it("replays kept history oldest first, then live; history: n gives the last n, false none", async () => {
    const pubsub = new PubSub({ history: 5 });
    for (let i = 1; i <= 8; i++) await pubsub.publish("news", i, "p");
    const all = pubsub.subscribe("news", "a");
    const two = pubsub.subscribe("news", "b", { history: 2 });
    const none = pubsub.subscribe("news", "c", { history: false });
    await pubsub.publish("news", 9, "p");
    expect(seqs(await read(all, 6))).toEqual([4, 5, 6, 7, 8, 9]);
    expect(seqs(await read(two, 3))).toEqual([7, 8, 9]);
    expect(seqs(await read(none, 1))).toEqual([9]);
    await pubsub.close();
  });

  it("caps history by bytes too, oldest first, and per channel when configured", async () => {
    const pubsub = new PubSub({ historyBytes: 10_000, channels: { small: { history: 1 } } });
    const kilobyte = "x".repeat(512); // 1 KiB as UTF-16
    for (let i = 0; i < 50; i++) await pubsub.publish("big", kilobyte, "p");
    for (let i = 0; i < 3; i++) await pubsub.publish("small", i, "p");
    const info = new Map(pubsub.channels().map((channel) => [channel.name, channel]));
    expect(info.get("big")!.history.count).toBeLessThan(10);
    expect(info.get("big")!.history.count).toBeGreaterThan(5);
    expect(info.get("big")!.history.bytes).toBeLessThanOrEqual(10_000);
    expect(info.get("small")!.history.count).toBe(1);
    expect(info.get("big")!.seq).toBe(50);
    const late = pubsub.subscribe("big", "late");
    const [first] = (await read(late, 1)) as PubSubMessage[];
    expect(first!.seq).toBe(50 - info.get("big")!.history.count + 1);
    await pubsub.close();
  });

  it("has no gap and no duplicate at the seam: subscribers joining while messages are published", async () => {
    const pubsub = new PubSub({ history: 10_000 });
    const total = 2000;
    const subscriptions: Subscription[] = [];
    // The publisher and the joiners interleave across many turns of the event loop.
    const publisher = (async () => {
      for (let i = 1; i <= total; i++) {
        await pubsub.publish("seam", i, "p");
        if (i % 7 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const joiner = (async () => {
      for (let j = 0; j < 40; j++) {
        subscriptions.push(pubsub.subscribe("seam", `s${j}`, { ring: total }));
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    await Promise.all([publisher, joiner]);
    for (const subscription of subscriptions) {
      const items = await read(subscription, total);
      expect(seqs(items)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    }
    await pubsub.close();
  });

  it("keeps a subscriber's own live messages from it with echo: false (history replays them)", async () => {
    const pubsub = new PubSub();
    await pubsub.publish("chat", "before", "me");
    const mine = pubsub.subscribe("chat", "me", { echo: false });
    const other = pubsub.subscribe("chat", "you");
    await pubsub.publish("chat", "mine", "me");
    await pubsub.publish("chat", "theirs", "you");
    expect((await read(mine, 2)).map((item) => (item as PubSubMessage).data)).toEqual(["before", "theirs"]);
    expect((await read(other, 3)).map((item) => (item as PubSubMessage).data)).toEqual([
      "before",
      "mine",
      "theirs",
    ]);
    await pubsub.close();
  });

  it("drop-oldest: a full ring drops the oldest, reports Lagged(n) once, then goes on", async () => {
    const pubsub = new PubSub();
    const slow = pubsub.subscribe("fire", "slow", { ring: 4 });
    for (let i = 1; i <= 10; i++) await pubsub.publish("fire", i, "p");
    expect(seqs(await read(slow, 5))).toEqual(["lagged 6", 7, 8, 9, 10]);
    await pubsub.publish("fire", 11, "p");
    expect(seqs(await read(slow, 1))).toEqual([11]);
    // The channel counts what its slow subscribers lost (channels() "lagged"), and so do the totals.
    const quick = pubsub.subscribe("fire", "quick", { ring: 2, history: false });
    for (let i = 12; i <= 15; i++) await pubsub.publish("fire", i, "p");
    expect(pubsub.channels().find((info) => info.name === "fire")!.lagged).toBe(6 + 2);
    expect(pubsub.figures().dropped).toBe(6 + 2);
    quick.close();
    await pubsub.close();
  });

  it("drop-oldest counts bytes too: a ring of large messages keeps about ringBytes", async () => {
    const pubsub = new PubSub();
    const slow = pubsub.subscribe("big", "slow", { ring: 100, ringBytes: 20_000 });
    const large = "x".repeat(4000); // ~8 KB as UTF-16
    for (let i = 1; i <= 10; i++) await pubsub.publish("big", large, "p");
    expect(seqs(await read(slow, 3))).toEqual(["lagged 8", 9, 10]);
    // One message always fits, however large.
    const tiny = pubsub.subscribe("huge", "tiny", { ringBytes: 1 });
    await pubsub.publish("huge", large, "p");
    expect(seqs(await read(tiny, 1))).toEqual([1]);
    await pubsub.close();
  });

  it("wait counts bytes too: publishing waits once a subscriber holds ringBytes", async () => {
    const pubsub = new PubSub({ publishTimeout: 100 });
    const slow = pubsub.subscribe("w", "slow", { lag: "wait", ring: 100, ringBytes: 20_000 });
    const large = "x".repeat(4000);
    await pubsub.publish("w", large, "p");
    await pubsub.publish("w", large, "p");
    await pubsub.publish("w", large, "p");
    await expect(pubsub.publish("w", large, "p")).rejects.toBeInstanceOf(PublishTimeoutError);
    expect(seqs(await read(slow, 3))).toEqual([1, 2, 3]);
    await pubsub.publish("w", large, "p");
    await pubsub.close();
  });

  it("wait: publishing waits while a wait subscriber's window is full and goes on when it reads", async () => {
    const pubsub = new PubSub();
    const slow = pubsub.subscribe("flow", "slow", { lag: "wait", ring: 2 });
    const fast = pubsub.subscribe("flow", "fast");
    await pubsub.publish("flow", 1, "p");
    await pubsub.publish("flow", 2, "p");
    let third = false;
    const publishing = pubsub.publish("flow", 3, "p").then((result) => {
      third = true;
      return result;
    });
    const fourth = pubsub.publish("flow", 4, "p");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(third).toBe(false);
    // The fast subscriber does not get it early either: a publication is all or nothing.
    expect(seqs(await read(fast, 2))).toEqual([1, 2]);
    expect(seqs(await read(slow, 1))).toEqual([1]);
    expect((await publishing).seq).toBe(3);
    expect(seqs(await read(slow, 1))).toEqual([2]);
    expect((await fourth).seq).toBe(4);
    expect(seqs(await read(slow, 2))).toEqual([3, 4]);
    expect(seqs(await read(fast, 2))).toEqual([3, 4]);
    await pubsub.close();
  });

  it("wait: a publication past the timeout fails with EPUBLISH_TIMEOUT and is not published", async () => {
    const pubsub = new PubSub({ publishTimeout: 100 });
    const stalled = pubsub.subscribe("t", "stalled", { lag: "wait", ring: 1 });
    const other = pubsub.subscribe("t", "other");
    await pubsub.publish("t", "fits", "p");
    const error = await pubsub.publish("t", "late", "p").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PublishTimeoutError);
    expect((error as PublishTimeoutError).code).toBe("EPUBLISH_TIMEOUT");
    expect(pubsub.channels()[0]!.history.count).toBe(1);
    stalled.close(); // leaving frees the channel at once
    await pubsub.publish("t", "after", "p");
    expect((await read(other, 2)).map((item) => (item as PubSubMessage).data)).toEqual(["fits", "after"]);
    await pubsub.close();
  });

  it("echo: false hides only the publisher's own origin (session), not others of the same identity", async () => {
    const pubsub = new PubSub();
    const mySession = {};
    const otherSession = {};
    const quiet = pubsub.subscribe("same", "me", { echo: false, history: false }, mySession);
    await pubsub.publish("same", "from me", "me", { origin: mySession });
    await pubsub.publish("same", "from my other session", "me", { origin: otherSession });
    expect((await read(quiet, 1)).map((item) => (item as PubSubMessage).data)).toEqual([
      "from my other session",
    ]);
    quiet.close();
    await pubsub.close();
  });

  it("two hub sessions of one identity: echo: false on one still gets what the other publishes", async () => {
    const hub = new Hub();
    const a = hub.session({ identity: { id: "twin", via: "local" } });
    const b = hub.session({ identity: { id: "twin", via: "local" } });
    const quiet = a.subscribe("twins", { echo: false, history: false });
    await a.publish("twins", "a's own");
    await b.publish("twins", "b's");
    expect((await read(quiet, 1)).map((item) => (item as PubSubMessage).data)).toEqual(["b's"]);
    quiet.close();
    await hub.close();
  });

  it("a wait subscriber does not hold back its own publications when echo is false", async () => {
    const pubsub = new PubSub({ publishTimeout: 100 });
    const self = pubsub.subscribe("e", "me", { lag: "wait", ring: 1, echo: false });
    await pubsub.publish("e", 1, "me");
    await pubsub.publish("e", 2, "me");
    await pubsub.publish("e", 3, "you");
    expect(seqs(await read(self, 1))).toEqual([3]);
    self.close();
    await pubsub.close();
  });

  it("lists channels with subscribers, history and rate, and forgets channels that keep nothing", async () => {
    const pubsub = new PubSub({ channels: { nohistory: { history: 0 } } });
    const subscription = pubsub.subscribe("a", "x");
    await pubsub.publish("a", 1, "p");
    await pubsub.publish("nohistory", 1, "p");
    const [info] = pubsub.channels();
    expect(info).toMatchObject({ name: "a", subscribers: 1, seq: 1, history: { count: 1 }, lagged: 0 });
    expect(info!.history.bytes).toBeGreaterThan(0);
    expect(info!.rate).toBeGreaterThan(0);
    expect(pubsub.channels().map((channel) => channel.name)).toEqual(["a"]);
    subscription.close();
    expect(pubsub.channels()[0]!.subscribers).toBe(0);
    await pubsub.close();
  });

  it("bounds the number of channels: forgets the least recently used idle one, refuses when none is idle", async () => {
    const pubsub = new PubSub({ maxChannels: 2 });
    await pubsub.publish("old", 1, "p");
    await pubsub.publish("newer", 1, "p");
    await pubsub.publish("newest", 1, "p");
    expect(pubsub.channels().map((channel) => channel.name)).toEqual(["newer", "newest"]);
    pubsub.subscribe("newer", "x");
    pubsub.subscribe("newest", "y");
    const error = await pubsub.publish("another", 1, "p").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(LimitExceededError);
    expect((error as LimitExceededError).limit).toBe("maxChannels");
    await pubsub.close();
  });

  it("refuses bad options with InvalidArgumentError and bad channel names with InvalidNameError", async () => {
    expect(() => new PubSub({ history: -1 })).toThrow(InvalidArgumentError);
    expect(() => new PubSub({ maxChannels: 0 })).toThrow(/maxChannels/);
    const pubsub = new PubSub({ maxRing: 10 });
    expect(() => pubsub.subscribe("", "x")).toThrow(InvalidNameError);
    expect(() => pubsub.subscribe("a", "x", { ring: 11 })).toThrow(/ring must be an integer from 1 to 10/);
    expect(() => pubsub.subscribe("a", "x", { lag: "never" as "wait" })).toThrow(/lag must be/);
    expect(() => pubsub.subscribe("a", "x", { history: -2 })).toThrow(/history/);
    expect(() => pubsub.subscribe("a", "x", { ringBytes: 0 })).toThrow(/ringBytes/);
    await expect(pubsub.publish("x".repeat(256), 1, "p")).rejects.toThrow(InvalidNameError);
    await pubsub.close();
  });

  it("close ends every subscription and fails waiting publications with ClosedError", async () => {
    const pubsub = new PubSub();
    const waiting = pubsub.subscribe("c", "w", { lag: "wait", ring: 1 });
    await pubsub.publish("c", 1, "p");
    const blocked = pubsub.publish("c", 2, "p");
    const iterator = pubsub.subscribe("c", "r", { history: false })[Symbol.asyncIterator]();
    const pendingRead = iterator.next();
    await pubsub.close();
    await expect(blocked).rejects.toBeInstanceOf(ClosedError);
    expect(await pendingRead).toEqual({ done: true, value: undefined });
    expect((await waiting[Symbol.asyncIterator]().next()).done).toBe(true);
    await expect(pubsub.publish("c", 3, "p")).rejects.toBeInstanceOf(ClosedError);
    expect(() => pubsub.subscribe("c", "z")).toThrow(ClosedError);
  });

  it("breaking out of a for-await loop leaves the channel", async () => {
    const pubsub = new PubSub();
    await pubsub.publish("loop", 1, "p");
    for await (const item of pubsub.subscribe("loop", "x")) {
      expect(isLagged(item)).toBe(false);
      break;
    }
    expect(pubsub.channels()[0]!.subscribers).toBe(0);
    await pubsub.close();
  });
});

describe("RateMeter", () => {
  it("averages over the last 10 seconds and forgets older ones", () => {
    let now = 1_000_000;
    const meter = new RateMeter(() => now);
    for (let i = 0; i < 50; i++) meter.mark();
    expect(meter.rate).toBe(5);
    now += 5000;
    for (let i = 0; i < 50; i++) meter.mark();
    expect(meter.rate).toBe(10);
    now += 6000;
    expect(meter.rate).toBe(5);
    now += 60_000;
    expect(meter.rate).toBe(0);
  });
});

describe("PubSub resuming with after", () => {
  it("replays what is newer than after, with Lagged for what is no longer kept", async () => {
    const pubsub = new PubSub({ history: 3 });
    for (let i = 1; i <= 6; i++) await pubsub.publish("r", i, "p");
    expect(seqs(await read(pubsub.subscribe("r", "a", { after: 5 }), 1))).toEqual([6]);
    expect(seqs(await read(pubsub.subscribe("r", "b", { after: 4 }), 2))).toEqual([5, 6]);
    expect(seqs(await read(pubsub.subscribe("r", "c", { after: 1 }), 4))).toEqual(["lagged 2", 4, 5, 6]);
    const current = pubsub.subscribe("r", "d", { after: 6 });
    await pubsub.publish("r", 7, "p");
    expect(seqs(await read(current, 1))).toEqual([7]);
    // A seq the channel never reached: its numbering restarted, so everything kept is new.
    expect(seqs(await read(pubsub.subscribe("r", "e", { after: 100 }), 3))).toEqual([5, 6, 7]);
    await pubsub.close();
  });
});
