/**
 * `wait` subscribers with full windows: a channel keeps the set of those that are full as they
 * fill and read (instead of going over every subscriber on every read), so a publication waits
 * exactly as long as any of them is full — whichever reads last, or leaves.
 */
import { describe, expect, it } from "vitest";
import { isLagged, PubSub } from "../../pubsub/index.js";
import type { Subscription } from "../../pubsub/index.js";

/** The seq of the next item, failing (instead of hanging) after a generous bound. */
async function nextSeq(subscription: Subscription): Promise<number> {
  const iterator = subscription[Symbol.asyncIterator]();
  const deadline = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error("no item within 10 s")), 10_000).unref(),
  );
  const next = await Promise.race([iterator.next(), deadline]);
  if (next.done === true || isLagged(next.value)) throw new Error("expected a message");
  return next.value.seq;
}

/** Whether `promise` settled by the end of a few turns. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(
    () => (done = true),
    () => (done = true),
  );
  for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe("wait subscribers with full windows", () => {
  it("a publication waits until the last full subscriber reads, in any order", async () => {
    const pubsub = new PubSub({ publishTimeout: 10_000 });
    const subscribers = [0, 1, 2].map((i) => pubsub.subscribe("w", `s${i}`, { lag: "wait", ring: 1 }));
    await pubsub.publish("w", "first", "p");
    const second = pubsub.publish("w", "second", "p");
    expect(await settled(second)).toBe(false);
    expect(await nextSeq(subscribers[2]!)).toBe(1);
    expect(await settled(second)).toBe(false);
    expect(await nextSeq(subscribers[0]!)).toBe(1);
    expect(await settled(second)).toBe(false);
    expect(await nextSeq(subscribers[1]!)).toBe(1);
    expect((await second).seq).toBe(2);
    // Full again, all three: the next one waits for all three once more.
    const third = pubsub.publish("w", "third", "p");
    expect(await settled(third)).toBe(false);
    for (const subscriber of subscribers) expect(await nextSeq(subscriber)).toBe(2);
    expect((await third).seq).toBe(3);
    await pubsub.close();
  });

  it("a full subscriber that leaves no longer holds publications back; one with room never did", async () => {
    const pubsub = new PubSub({ publishTimeout: 10_000 });
    const stalled = pubsub.subscribe("l", "stalled", { lag: "wait", ring: 1 });
    const roomy = pubsub.subscribe("l", "roomy", { lag: "wait", ring: 10 });
    await pubsub.publish("l", 1, "p");
    const second = pubsub.publish("l", 2, "p");
    expect(await settled(second)).toBe(false);
    roomy.close(); // not full: changes nothing
    expect(await settled(second)).toBe(false);
    stalled.close();
    expect((await second).seq).toBe(2);
    await pubsub.close();
  });

  it("a full echo: false subscriber holds back others' publications, not its own", async () => {
    const pubsub = new PubSub({ publishTimeout: 10_000 });
    const quiet = pubsub.subscribe("e", "me", { lag: "wait", ring: 1, echo: false });
    await pubsub.publish("e", "yours", "you");
    const theirs = pubsub.publish("e", "yours again", "you");
    expect(await settled(theirs)).toBe(false);
    expect(await nextSeq(quiet)).toBe(1);
    expect((await theirs).seq).toBe(2);
    await pubsub.close();
  });

  it("a window full by bytes frees when reading brings it under ringBytes", async () => {
    const pubsub = new PubSub({ publishTimeout: 10_000 });
    const slow = pubsub.subscribe("b", "slow", { lag: "wait", ring: 100, ringBytes: 20_000 });
    const large = "x".repeat(4000);
    for (let i = 0; i < 3; i++) await pubsub.publish("b", large, "p"); // over 20,000 B held: full
    const fourth = pubsub.publish("b", large, "p");
    expect(await settled(fourth)).toBe(false);
    expect(await nextSeq(slow)).toBe(1); // two held: room again
    expect((await fourth).seq).toBe(4);
    await pubsub.close();
  });
});
