/**
 * Byte-stream broadcast in the in-process core: one publisher's stream read once and fanned out
 * to every subscriber, each under its own lag policy — `wait` holds the publisher back (and cuts
 * a subscriber that stays full for the publish timeout), `drop-oldest` drops chunks and says
 * exactly where. Nothing here measures time: every wait is bounded and only outcomes are checked.
 */
import { describe, expect, it } from "vitest";
import { ByteStream } from "../../model/byte-stream.js";
import { ClosedError, StreamResetError, SubscriberTooSlowError } from "../../model/errors.js";
import { isLagged, PubSub } from "../../pubsub/index.js";
import type { Lagged, PubSubMessage, Subscription } from "../../pubsub/index.js";

/** Fails instead of hanging. */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function next(subscription: Subscription, what: string): Promise<PubSubMessage | Lagged> {
  const result = await within(subscription[Symbol.asyncIterator]().next(), what);
  if (result.done === true) throw new Error(`${what}: the subscription ended`);
  return result.value;
}

/** Reads a stream to its end, bounded. */
async function readAll(stream: ByteStream, what: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await within(
    (async () => {
      for await (const chunk of stream.readable) chunks.push(chunk);
    })(),
    what,
    20_000,
  );
  return Buffer.concat(chunks);
}

/** `count` chunks of `size` bytes, chunk i filled with i & 0xff. */
const chunksOf = (count: number, size: number): Uint8Array[] =>
  Array.from({ length: count }, (_, i) => new Uint8Array(size).fill(i & 0xff));

describe("byte-stream broadcast (PubSub)", () => {
  it("gives every subscriber its own copy of the publisher's stream, tagged and numbered; not kept in history", async () => {
    const pubsub = new PubSub();
    const a = pubsub.subscribe("fire", "a");
    const b = pubsub.subscribe("fire", "b", { lag: "wait" });
    await pubsub.publish("fire", "before", "p");
    const [mine, theirs] = ByteStream.pair();
    const published = await pubsub.publish("fire", { name: "log" }, "p", { stream: theirs });
    expect(published.seq).toBe(2);
    await pubsub.publish("fire", "after", "p");
    const copies: ByteStream[] = [];
    for (const subscription of [a, b]) {
      expect(((await next(subscription, "history")) as PubSubMessage).data).toBe("before");
      const message = (await next(subscription, "the broadcast")) as PubSubMessage;
      expect(message).toMatchObject({ from: "p", seq: 2, data: { name: "log" } });
      expect(message.stream).toBeInstanceOf(ByteStream);
      copies.push(message.stream!);
      expect(((await next(subscription, "after")) as PubSubMessage).seq).toBe(3);
    }
    expect(copies[0]).not.toBe(copies[1]);
    // A late joiner gets no copy: history keeps the messages around the broadcast, not it.
    const late = pubsub.subscribe("fire", "late");
    expect(((await next(late, "late 1")) as PubSubMessage).data).toBe("before");
    expect(((await next(late, "late 2")) as PubSubMessage).data).toBe("after");
    expect(pubsub.channels()[0]!.history.count).toBe(2);
    // Resuming after seq 1 replays seq 3, and counts the broadcast as missed.
    const resumed = pubsub.subscribe("fire", "r", { after: 1 });
    expect(await next(resumed, "missed")).toEqual({ lagged: 1 });
    expect(((await next(resumed, "resumed")) as PubSubMessage).seq).toBe(3);
    await mine.writable.getWriter().write(new Uint8Array([1, 2, 3]));
    for (const copy of copies) {
      const { value } = await within(copy.readable.getReader().read(), "a copy's first chunk");
      expect([...value!]).toEqual([1, 2, 3]);
    }
    for (const subscription of [a, b, late, resumed]) subscription.close();
    mine.reset();
    await pubsub.close();
  });

  it("delivers the same bytes to each subscriber, ends each copy, and releases both ends", async () => {
    const pubsub = new PubSub();
    const subscriptions = [
      pubsub.subscribe("bytes", "a"),
      pubsub.subscribe("bytes", "b", { lag: "wait" }),
      pubsub.subscribe("bytes", "c", { ringBytes: 1 << 20 }),
    ];
    const [mine, theirs] = ByteStream.pair();
    await pubsub.publish("bytes", null, "p", { stream: theirs });
    const chunks = chunksOf(64, 8192);
    const writer = mine.writable.getWriter();
    const written = (async () => {
      for (const chunk of chunks) await writer.write(chunk);
      await writer.close();
    })();
    const copies = await Promise.all(
      subscriptions.map(async (subscription, i) => {
        const { stream } = (await next(subscription, `copy ${i}`)) as PubSubMessage;
        const bytes = await readAll(stream!, `reading copy ${i}`);
        await stream!.writable.close();
        await within(stream!.closed, `copy ${i} closed`);
        return bytes;
      }),
    );
    await within(written, "the publisher's writes");
    const expected = Buffer.concat(chunks);
    for (const copy of copies) expect(Buffer.compare(copy, expected)).toBe(0);
    // The publisher's end: its reading side was ended by the hub at once.
    expect(await readAll(mine, "publisher's readable")).toHaveLength(0);
    await within(mine.closed, "publisher's end closed");
    for (const subscription of subscriptions) subscription.close();
    await pubsub.close();
  });

  it("wait: the slowest subscriber holds the publisher back; one stalled past the publish timeout is cut, the others go on", async () => {
    const pubsub = new PubSub({ publishTimeout: 300 });
    const reader = pubsub.subscribe("w", "reader", { lag: "wait" });
    const stalled = pubsub.subscribe("w", "stalled", { lag: "wait" });
    const [mine, theirs] = ByteStream.pair();
    await pubsub.publish("w", null, "p", { stream: theirs });
    const chunks = chunksOf(200, 4096); // 800 KiB: far beyond every buffer on the way
    const writer = mine.writable.getWriter();
    const written = (async () => {
      for (const chunk of chunks) await writer.write(chunk);
      await writer.close();
    })();
    const { stream: stalledCopy } = (await next(stalled, "stalled's copy")) as PubSubMessage;
    const { stream: readerCopy } = (await next(reader, "reader's copy")) as PubSubMessage;
    const bytes = await readAll(readerCopy!, "the reader's copy");
    expect(Buffer.compare(bytes, Buffer.concat(chunks))).toBe(0);
    await within(written, "the publisher's writes");
    // The stalled one was cut with a typed error: a kind of stream reset.
    const failure = await within(
      readAll(stalledCopy!, "the stalled copy").then(
        () => undefined,
        (error: unknown) => error,
      ),
      "the stalled copy fails",
    );
    expect(failure).toBeInstanceOf(SubscriberTooSlowError);
    expect(failure).toBeInstanceOf(StreamResetError);
    expect(failure).toMatchObject({ code: "ESUBSCRIBER_TOO_SLOW", channel: "w", seq: 1, timeoutMs: 300 });
    reader.close();
    stalled.close();
    await pubsub.close();
  });

  it("drop-oldest: a slow subscriber loses whole chunks and is told how many, how many bytes and at which offset", async () => {
    const pubsub = new PubSub();
    const fast = pubsub.subscribe("d", "fast", { lag: "wait" });
    const slow = pubsub.subscribe("d", "slow", { ringBytes: 64 * 1024 });
    const [mine, theirs] = ByteStream.pair();
    await pubsub.publish("d", null, "p", { stream: theirs });
    const size = 4096;
    const chunks = chunksOf(250, size); // ~1 MiB; the slow one keeps 64 KiB + its stream's buffer
    const writer = mine.writable.getWriter();
    const written = (async () => {
      for (const chunk of chunks) await writer.write(chunk);
      await writer.close();
    })();
    const { stream: fastCopy } = (await next(fast, "fast copy")) as PubSubMessage;
    const { stream: slowCopy } = (await next(slow, "slow copy")) as PubSubMessage;
    // The publisher is not held back by the slow one: it finishes while the slow one reads nothing.
    expect(await readAll(fastCopy!, "the fast copy")).toHaveLength(chunks.length * size);
    await within(written, "the publisher's writes");
    const got = await readAll(slowCopy!, "the slow copy");
    const notices: Lagged[] = [];
    // Each notice was queued (synchronously) before the chunk after its gap: all are there now.
    for (let item = slow.take(); item !== undefined; item = slow.take()) {
      expect(item !== null && isLagged(item)).toBe(true);
      notices.push(item as Lagged);
    }
    expect(notices.length).toBeGreaterThan(0);
    const dropped = notices.reduce((sum, notice) => sum + notice.bytes!, 0);
    expect(got.length + dropped).toBe(chunks.length * size);
    // Each gap is where the notice says: the chunk numbers jump by exactly the chunks dropped.
    const gaps = new Map<number, number>();
    for (const notice of notices) {
      expect(notice.seq).toBe(1);
      expect(notice.bytes).toBe(notice.lagged * size);
      expect(notice.at! % size).toBe(0);
      gaps.set(notice.at!, (gaps.get(notice.at!) ?? 0) + notice.lagged);
    }
    let expectedChunk = 0;
    let offset = 0;
    for (const [at, lagged] of [...gaps].sort(([a], [b]) => a - b)) {
      expectedChunk += (at - offset) / size + lagged;
      offset = at;
      if (offset < got.length) expect(got[offset]).toBe(expectedChunk & 0xff);
    }
    fast.close();
    slow.close();
    await pubsub.close();
  });

  it("a subscriber that resets its copy leaves; a publisher's reset reaches every copy", async () => {
    const pubsub = new PubSub();
    const quitter = pubsub.subscribe("r", "quitter", { lag: "wait" });
    const stayer = pubsub.subscribe("r", "stayer", { lag: "wait" });
    const [mine, theirs] = ByteStream.pair();
    await pubsub.publish("r", null, "p", { stream: theirs });
    const { stream: quitterCopy } = (await next(quitter, "quitter's copy")) as PubSubMessage;
    const { stream: stayerCopy } = (await next(stayer, "stayer's copy")) as PubSubMessage;
    quitterCopy!.reset(new Error("not interested"));
    const writer = mine.writable.getWriter();
    // The quitter no longer holds anyone back: far more than its buffer gets through.
    const reading = stayerCopy!.readable.getReader();
    let read = 0;
    const reader = (async () => {
      for (;;) {
        const { done, value } = await reading.read();
        if (done) return;
        read += value.byteLength;
      }
    })().catch((error: unknown) => error);
    for (const chunk of chunksOf(100, 4096)) await within(writer.write(chunk), "a write");
    await within(
      (async () => {
        while (read < 100 * 4096) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
      "the stayer read everything",
    );
    mine.reset(new Error("publisher gave up"));
    expect(await within(reader, "the stayer's copy fails")).toBeInstanceOf(StreamResetError);
    quitter.close();
    stayer.close();
    await pubsub.close();
  });

  it("echo: false leaves the publishing session out of its own broadcast", async () => {
    const pubsub = new PubSub();
    const session = {};
    const self = pubsub.subscribe("e", "me", { echo: false, history: false }, session);
    const other = pubsub.subscribe("e", "you", { history: false });
    const [mine, theirs] = ByteStream.pair();
    await pubsub.publish("e", "stream", "me", { stream: theirs, origin: session });
    await pubsub.publish("e", "plain", "you");
    expect(((await next(self, "self")) as PubSubMessage).data).toBe("plain");
    const copy = (await next(other, "other")) as PubSubMessage;
    expect(copy.stream).toBeInstanceOf(ByteStream);
    await mine.writable.close();
    expect(await readAll(copy.stream!, "other's copy")).toHaveLength(0);
    self.close();
    other.close();
    await pubsub.close();
  });

  it("a refused broadcast resets the stream it was given; so does a copy nobody will read", async () => {
    const pubsub = new PubSub();
    const [mine, theirs] = ByteStream.pair();
    const unread = pubsub.subscribe("u", "u", { ring: 1 });
    await pubsub.publish("u", null, "p", { stream: theirs });
    // The ring of one drops the broadcast's message: its copy is reset, not left open.
    await pubsub.publish("u", "newer", "p");
    expect(await next(unread, "lagged")).toEqual({ lagged: 1 });
    await mine.writable.getWriter().close();
    unread.close();
    await expect(pubsub.publish("u", null, "p", { stream: "no" as never })).rejects.toThrow(
      /stream must be a ByteStream/,
    );
    await pubsub.close();
    // A wait subscriber that leaves with the broadcast unread no longer holds the publisher back
    // (its copy was reset: with the publish timeout of a minute, nothing else would free it).
    const patient = new PubSub({ publishTimeout: 60_000 });
    const leaving = patient.subscribe("w", "leaving", { lag: "wait" });
    const [writer, given1] = ByteStream.pair();
    await patient.publish("w", null, "p", { stream: given1 });
    leaving.close();
    const write = writer.writable.getWriter();
    for (const chunk of chunksOf(64, 16 * 1024)) await within(write.write(chunk), "a write, unheld");
    await write.close();
    await patient.close();
    const [refused, given] = ByteStream.pair();
    await expect(pubsub.publish("u", null, "p", { stream: given })).rejects.toBeInstanceOf(ClosedError);
    await within(given.closed, "the refused stream is reset");
    await within(refused.closed, "and so is its other end");
  });
});
