// `whenReadable`, what a remote face's forwarding pump waits with instead of a promise per
// message: called once, in a microtask (never from inside a publication, which is still handing
// the message to the other subscribers), as soon as there is something to take or the
// subscription closed.
import { describe, expect, it } from "vitest";
import { PubSub } from "../../pubsub/index.js";

describe("ChannelSubscription.whenReadable", () => {
  it("calls its listener once, in a microtask after the publication, with every message takeable", async () => {
    const pubsub = new PubSub();
    const first = pubsub.subscribe("news", "ada", { history: false });
    const second = pubsub.subscribe("news", "bob", { history: false });
    const calls: string[] = [];
    first.whenReadable(() => calls.push(`first saw ${second.buffered} buffered at bob`));
    const published = pubsub.publish("news", "one", "carol");
    // Not yet: the listener never runs inside the publication.
    expect(calls).toEqual([]);
    await published;
    await pubsub.publish("news", "two", "carol");
    // Called once, after the whole first publication (bob had it too), not again for the second.
    expect(calls).toEqual(["first saw 1 buffered at bob"]);
    expect(
      [first.take(), first.take(), first.take()].map((item) => (item as { data?: unknown })?.data),
    ).toEqual(["one", "two", undefined]);
    await pubsub.close();
  });

  it("calls at once (in a microtask) when something is already there, and on close", async () => {
    const pubsub = new PubSub();
    const subscription = pubsub.subscribe("news", "ada", { history: false });
    await pubsub.publish("news", "one", "carol");
    let ready = 0;
    subscription.whenReadable(() => ready++);
    expect(ready).toBe(0);
    await Promise.resolve();
    expect(ready).toBe(1);
    subscription.take();
    let closed = false;
    subscription.whenReadable(() => (closed = subscription.take() === null));
    subscription.close();
    await Promise.resolve();
    expect(closed).toBe(true);
    await pubsub.close();
  });
});
