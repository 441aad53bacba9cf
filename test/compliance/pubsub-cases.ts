/**
 * The pub/sub part of the compliance suite: publishing and subscribing through the transport
 * under test, with the hub (and its `PubSub`) in the test process.
 */
import { describe, expect, it } from "vitest";
import {
  Channel,
  ForbiddenError,
  InvalidArgumentError,
  InvalidMessageError,
  InvalidNameError,
  type Hub,
  type HubClient,
  type HubSubscription,
  type Lagged,
  type PubSubMessage,
  type Subscription,
} from "../../index.js";
import { within } from "./suite.js";

type Item = PubSubMessage | Lagged;

/** Reads `count` items, bounded. */
async function take(subscription: Subscription, count: number, what: string): Promise<Item[]> {
  const iterator = subscription[Symbol.asyncIterator]();
  const items: Item[] = [];
  while (items.length < count) {
    const next = await within(iterator.next(), 10_000, `${what} (${items.length} of ${count} read)`);
    if (next.done === true) throw new Error(`${what}: the subscription ended after ${items.length} items`);
    items.push(next.value);
  }
  return items;
}

const messages = (items: Item[]): PubSubMessage[] =>
  items.filter((item): item is PubSubMessage => "seq" in item);
const subscribersOf = (hub: Hub, channel: string): number =>
  hub.pubsub.channels().find((info) => info.name === channel)?.subscribers ?? 0;

let unique = 0;
/** A channel name no other test (or earlier run of this one) used on this hub. */
const fresh = (prefix: string): string => `${prefix}.${process.pid}.${++unique}`;

export function pubsubCases(fixture: () => { hub: Hub; connect(): Promise<HubClient> }): void {
  describe("pub/sub", () => {
    it("delivers publications to every subscriber, tagged by the hub with the publisher's identity", async () => {
      const { hub } = fixture();
      const channel = fresh("ps.tag");
      const publisher = await fixture().connect();
      const subscriber = await fixture().connect();
      try {
        const first = subscriber.subscribe(channel);
        const second = subscriber.subscribe(channel, { history: false });
        await within(Promise.all([first.ready, second.ready]), 5000, "subscriptions");
        // The sender tag comes from the session, whatever the message says.
        const published = await publisher.publish(channel, { from: "local", text: "hi" });
        await hub.publish(channel, "from the hub");
        expect(published.seq).toBe(1);
        for (const subscription of [first, second]) {
          const [remote, local] = messages(await take(subscription, 2, "two messages"));
          expect(remote!.data).toEqual({ from: "local", text: "hi" });
          expect(remote!.seq).toBe(1);
          expect(remote!.time).toBe(published.time);
          expect(typeof remote!.from).toBe("string");
          expect(remote!.from).not.toBe("local");
          expect(local).toMatchObject({ from: "local", data: "from the hub", seq: 2 });
        }
        first.close();
        second.close();
      } finally {
        await publisher.close();
        await subscriber.close();
      }
    });

    it("carries strings, bytes and structured data unchanged", async () => {
      const channel = fresh("ps.data");
      const session = await fixture().connect();
      try {
        const subscription = session.subscribe(channel);
        await within(subscription.ready, 5000, "subscription");
        const values = [
          "text ✓",
          new Uint8Array([0, 1, 254, 255]),
          { list: [1, 2.5, null, true], nested: { a: "b" } },
        ];
        for (const value of values) await session.publish(channel, value);
        const got = messages(await take(subscription, values.length, "values"));
        expect(got.map((message) => message.data)).toEqual(values);
        expect(got[1]!.data).toBeInstanceOf(Uint8Array);
        subscription.close();
      } finally {
        await session.close();
      }
    });

    it("replays history to a late joiner oldest first, then live, with no gap or duplicate", async () => {
      const channel = fresh("ps.history");
      const session = await fixture().connect();
      try {
        for (let i = 1; i <= 5; i++) await session.publish(channel, i);
        const all = session.subscribe(channel);
        const last2 = session.subscribe(channel, { history: 2 });
        await within(Promise.all([all.ready, last2.ready]), 5000, "subscriptions");
        // Published concurrently with nothing awaited in between: the seam must hold.
        await Promise.all([6, 7, 8].map((i) => session.publish(channel, i)));
        expect(messages(await take(all, 8, "all")).map((m) => m.data)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
        expect(messages(await take(last2, 5, "last 2")).map((m) => m.data)).toEqual([4, 5, 6, 7, 8]);
        all.close();
        last2.close();
      } finally {
        await session.close();
      }
    });

    it("leaves out a subscriber's own publications with echo: false", async () => {
      const channel = fresh("ps.echo");
      const { hub } = fixture();
      const session = await fixture().connect();
      try {
        const quiet = session.subscribe(channel, { echo: false, history: false });
        await within(quiet.ready, 5000, "subscription");
        await session.publish(channel, "mine");
        await hub.publish(channel, "theirs");
        expect(messages(await take(quiet, 1, "not mine")).map((m) => m.data)).toEqual(["theirs"]);
        quiet.close();
      } finally {
        await session.close();
      }
    });

    it("echo: false hides only the subscriber's own session, not another session of the same identity", async () => {
      const channel = fresh("ps.echo-session");
      const session = await fixture().connect();
      const twin = await fixture().connect();
      try {
        const quiet = session.subscribe(channel, { echo: false, history: false });
        await within(quiet.ready, 5000, "subscription");
        await session.publish(channel, "mine");
        // Over Unix both connections have the same identity (the user): only the session counts.
        await twin.publish(channel, "my twin's");
        expect(messages(await take(quiet, 1, "the twin's")).map((m) => m.data)).toEqual(["my twin's"]);
        quiet.close();
      } finally {
        await session.close();
        await twin.close();
      }
    });

    it("broadcasts a byte stream: each subscriber, remote or in the hub, reads its own copy of every byte", async () => {
      const { hub } = fixture();
      const channel = fresh("ps.bcast");
      const publisher = await fixture().connect();
      const subscriber = await fixture().connect();
      try {
        const remote = subscriber.subscribe(channel, { lag: "wait", history: false });
        const local = hub.subscribe(channel, { lag: "wait", history: false });
        await within(remote.ready, 5000, "subscription");
        const { stream, seq } = await within(
          publisher.broadcast(channel, { name: "firehose" }),
          5000,
          "broadcast",
        );
        // 1 MiB in chunks of every size up to 16 KiB, so frames are cut and joined on the way.
        const sent = Buffer.alloc(1 << 20);
        for (let i = 0; i < sent.length; i++) sent[i] = (i * 7 + (i >> 11)) & 0xff;
        const writing = (async () => {
          const writer = stream.writable.getWriter();
          for (let at = 0, size = 1; at < sent.length; at += size, size = (size * 3) % 16_384 || 1) {
            await writer.write(sent.subarray(at, Math.min(sent.length, at + size)));
          }
          await writer.close();
        })();
        // Both read at once: each is a `wait` subscriber, so either alone would hold the other back.
        const copies = [
          ["remote", remote],
          ["in the hub", local],
        ] as const;
        await Promise.all(
          copies.map(async ([name, subscription]) => {
            const [message] = messages(await take(subscription, 1, `${name}: the broadcast`));
            expect(message).toMatchObject({ seq, data: { name: "firehose" } });
            expect(message!.from).not.toBe("local"); // tagged with the remote publisher
            const chunks: Uint8Array[] = [];
            await within(
              (async () => {
                for await (const chunk of message!.stream!.readable) chunks.push(chunk);
              })(),
              20_000,
              `${name}: reading the copy`,
            );
            expect(Buffer.compare(Buffer.concat(chunks), sent)).toBe(0);
            await message!.stream!.writable.close();
          }),
        );
        await within(writing, 10_000, "the publisher's writes");
        remote.close();
        local.close();
      } finally {
        await publisher.close();
        await subscriber.close();
      }
    });

    it("broadcast to a stalled drop-oldest subscriber: whole chunks dropped, each gap told with its offset", async () => {
      const { hub } = fixture();
      const channel = fresh("ps.bcast-lag");
      const subscriber = await fixture().connect();
      try {
        const slow = subscriber.subscribe(channel, { ringBytes: 64 * 1024, history: false });
        await within(slow.ready, 5000, "subscription");
        const { stream } = await hub.broadcast(channel);
        const [message] = messages(await take(slow, 1, "the broadcast"));
        // Nobody reads the copy: written until the hub tells of a first gap (the transport's
        // own buffers differ: HTTP/2 holds far more than a Unix socket), at most 64 MiB.
        const size = 8192;
        const iterator = slow[Symbol.asyncIterator]();
        let first: Lagged | undefined;
        const firstNotice = iterator.next().then((next) => {
          if (next.done !== true) first = next.value as Lagged;
        });
        let count = 0;
        const writer = stream.writable.getWriter();
        while (first === undefined && count < 8192) {
          await within(writer.write(new Uint8Array(size).fill(count & 0xff)), 10_000, `write ${count}`);
          count++;
          if (count % 64 === 0) await new Promise((resolve) => setImmediate(resolve));
        }
        await writer.close();
        await within(firstNotice, 10_000, "the first notice");
        const chunks: Uint8Array[] = [];
        await within(
          (async () => {
            for await (const chunk of message!.stream!.readable) chunks.push(chunk);
          })(),
          20_000,
          "reading the copy",
        );
        const got = Buffer.concat(chunks);
        expect(got.length % size).toBe(0);
        expect(got.length).toBeLessThan(count * size);
        // The notices account for every byte not read; those of one gap share its offset.
        const gaps = new Map<number, number>();
        let dropped = 0;
        let notice: Lagged | undefined = first;
        while (notice !== undefined) {
          expect(notice).toMatchObject({ seq: message!.seq, bytes: notice.lagged * size });
          gaps.set(notice.at!, (gaps.get(notice.at!) ?? 0) + notice.lagged);
          dropped += notice.bytes!;
          if (dropped >= count * size - got.length) break;
          const next = await within(iterator.next(), 10_000, `notices (${dropped} bytes told)`);
          if (next.done === true) throw new Error("ended early");
          notice = next.value as Lagged;
        }
        // Each gap is where it is said to be: the chunk numbers jump by the chunks dropped there.
        let chunk = 0;
        let offset = 0;
        for (const [at, lagged] of [...gaps].sort(([a], [b]) => a - b)) {
          chunk += (at - offset) / size + lagged;
          offset = at;
          if (offset < got.length) expect(got[offset]).toBe(chunk & 0xff);
        }
        expect(dropped + got.length).toBe(count * size);
        await message!.stream!.writable.close();
        slow.close();
      } finally {
        await subscriber.close();
      }
    });

    it("drops the oldest for a stalled drop-oldest subscriber and reports Lagged, in order, ending at the newest", async () => {
      const { hub } = fixture();
      const channel = fresh("ps.lag");
      const session = await fixture().connect();
      try {
        const slow = session.subscribe(channel, { ring: 8, history: false });
        await within(slow.ready, 5000, "subscription");
        const total = 2000;
        for (let i = 1; i <= total; i++) await hub.publish(channel, i);
        let seen = 0;
        let lagged = 0;
        let last = 0;
        const iterator = slow[Symbol.asyncIterator]();
        while (last < total) {
          const next = await within(iterator.next(), 10_000, `message after seq ${last}`);
          if (next.done === true) throw new Error("ended early");
          if ("lagged" in next.value) lagged += next.value.lagged;
          else {
            expect(next.value.seq).toBeGreaterThan(last);
            last = next.value.seq;
            seen++;
          }
        }
        expect(lagged).toBeGreaterThan(0);
        expect(seen + lagged).toBe(total);
        slow.close();
      } finally {
        await session.close();
      }
    });

    it("makes the publisher wait for a stalled wait subscriber, losing nothing", async () => {
      const { hub } = fixture();
      const channel = fresh("ps.wait");
      const session = await fixture().connect();
      try {
        const slow = session.subscribe(channel, { lag: "wait", ring: 4, history: false });
        await within(slow.ready, 5000, "subscription");
        // Publish until one publication stays pending: the credit window and the ring are full.
        let published = 0;
        let blocked: Promise<unknown> | undefined;
        while (blocked === undefined && published < 10_000) {
          const publishing = hub.publish(channel, published + 1);
          const settled = await Promise.race([
            publishing.then(() => true),
            new Promise<false>((resolve) => setTimeout(() => resolve(false), 300)),
          ]);
          published++;
          if (!settled) blocked = publishing;
        }
        expect(blocked).toBeDefined();
        const got = messages(await take(slow, published, "everything, in order"));
        expect(got.map((message) => message.data)).toEqual(
          Array.from({ length: published }, (_, i) => i + 1),
        );
        await within(blocked!, 5000, "the blocked publish");
        slow.close();
      } finally {
        await session.close();
      }
    });

    it("ends the subscription at the hub when it is closed, and when its session closes", async () => {
      const { hub } = fixture();
      const channel = fresh("ps.close");
      const session = await fixture().connect();
      const first = session.subscribe(channel);
      const second = session.subscribe(channel);
      await within(Promise.all([first.ready, second.ready]), 5000, "subscriptions");
      expect(subscribersOf(hub, channel)).toBe(2);
      const listed = (await session.channels()).find((info) => info.name === channel);
      expect(listed).toMatchObject({ name: channel, subscribers: 2, seq: 0, history: { count: 0 } });
      first.close();
      expect((await first[Symbol.asyncIterator]().next()).done).toBe(true);
      await expect.poll(() => subscribersOf(hub, channel), { timeout: 5000 }).toBe(1);
      await session.close();
      await expect.poll(() => subscribersOf(hub, channel), { timeout: 5000 }).toBe(0);
      expect((await within(second[Symbol.asyncIterator]().next(), 5000, "end")).done).toBe(true);
    });

    it("refuses bad names, bad options and attachments with typed errors", async () => {
      const session = await fixture().connect();
      try {
        expect(() => session.subscribe("bad\nname")).toThrow(InvalidNameError);
        expect(() => session.subscribe("ok", { lag: "later" as "wait" })).toThrow(InvalidArgumentError);
        await expect(session.publish("bad\u0000name", 1)).rejects.toThrow(InvalidNameError);
        const [mine, theirs] = Channel.pair();
        await expect(session.publish(fresh("ps.attach"), { reply: theirs })).rejects.toThrow(
          InvalidMessageError,
        );
        await within(mine.closed, 5000, "the refused channel's close");
      } finally {
        await session.close();
      }
    });

    it("applies the hub's publish and subscribe access rules", async () => {
      const { hub } = fixture();
      // Refuses only names of its own, so the other tests are unaffected.
      hub.authorize({
        publish: (_identity, channel) => !channel.startsWith("ps-secret."),
        subscribe: (_identity, channel) => !channel.startsWith("ps-secret."),
      });
      const session = await fixture().connect();
      try {
        await expect(session.publish("ps-secret.a", 1)).rejects.toThrow(ForbiddenError);
        let refused: HubSubscription;
        try {
          refused = session.subscribe("ps-secret.a");
        } catch (error) {
          // In one process the refusal is immediate: subscribe throws it.
          expect(error).toBeInstanceOf(ForbiddenError);
          return;
        }
        await expect(within(refused.ready, 5000, "refusal")).rejects.toThrow(ForbiddenError);
        await expect(refused[Symbol.asyncIterator]().next()).rejects.toThrow(ForbiddenError);
      } finally {
        await session.close();
      }
    });
  });
}
