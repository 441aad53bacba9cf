import { ByteStream } from "../../model/byte-stream.js";
import { Channel, type ChannelMessage } from "../../model/channel.js";
import { InvalidMessageError } from "../../model/errors.js";
import type { Lagged, PubSubMessage, SubscribeOptions } from "../../pubsub/index.js";
import type { HubSubscription } from "../types.js";
import type { HubRequester } from "./remote-watch.js";
import type { SubscribeWireOptions, SubscriptionEvent } from "./hub-protocol.js";

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * One `subscribe()` of a remote hub client. Messages are read straight from the events
 * channel, so the client holds no queue of its own: a subscriber that stops reading stops
 * granting credit, and the hub's ring (not this process, not the socket) takes the strain.
 *
 * Across a reconnection the iteration goes on: the client subscribes again with `after` set
 * to the last seq it read, so the hub replays from its history exactly what was missed (and a
 * `Lagged` for what history no longer keeps), never a message twice.
 */
export class RemoteSubscription implements HubSubscription, AsyncIterator<PubSubMessage | Lagged> {
  readonly #options: SubscribeWireOptions;
  readonly #onEnd: (subscription: RemoteSubscription) => void;
  #events: Channel | undefined;
  #iterator: AsyncIterator<ChannelMessage> | undefined;
  /** Resolves when a new events channel is installed or the subscription ends. */
  #changed = resolvers();
  /** Seq of the last message read, for resuming (`after`) on the next connection. */
  #lastSeq: number | undefined;
  #opened = 0;
  #done = false;
  #error: unknown;
  #reading = false;
  readonly ready: Promise<void>;
  #ready = resolvers();

  constructor(
    readonly channel: string,
    options: SubscribeOptions,
    signal: AbortSignal | undefined,
    onEnd: (subscription: RemoteSubscription) => void,
  ) {
    const { history, echo, lag, ring, ringBytes } = options;
    this.#options = { history, echo, lag, ring, ringBytes };
    this.#onEnd = onEnd;
    this.ready = this.#ready.promise;
    // A refusal reaches whoever reads; `ready` is for those who want to know at once.
    this.ready.catch(() => undefined);
    if (signal?.aborted) this.close();
    else signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  get done(): boolean {
    return this.#done;
  }

  /** Subscribes on a (new) connection; rejects if the hub refuses or the connection fails meanwhile. */
  async open(request: HubRequester, connectionLost: () => boolean): Promise<void> {
    if (this.#done) return;
    this.#opened += 1;
    const [events, eventsForHub] = Channel.pair();
    const previous = this.#events;
    this.#install(events);
    previous?.close();
    const options: SubscribeWireOptions =
      this.#lastSeq === undefined && this.#opened === 1
        ? this.#options
        : { ...this.#options, after: this.#lastSeq ?? 0 };
    try {
      await request({ op: "subscribe", channel: this.channel, options, events: eventsForHub });
      this.#ready.resolve();
    } catch (error) {
      if (this.#events === events) this.#install(undefined);
      events.close();
      if (!connectionLost()) this.#ready.reject(error);
      throw error;
    }
    this.#connectionLost = connectionLost;
  }

  #connectionLost: () => boolean = () => false;

  #install(events: Channel | undefined): void {
    this.#events = events;
    this.#iterator = events?.[Symbol.asyncIterator]();
    const changed = this.#changed;
    this.#changed = resolvers();
    changed.resolve();
  }

  next(): Promise<IteratorResult<PubSubMessage | Lagged>> {
    // A batched read: every event already received is returned at once, without the wait
    // below — a subscriber behind a burst pays one promise per message, not a chain of them.
    const message = this.#reading || this.#done ? undefined : this.#events?.poll();
    if (message !== undefined) {
      try {
        return Promise.resolve({ done: false, value: this.#read(message.data) });
      } catch (error) {
        return Promise.reject(error as Error);
      }
    }
    return this.#wait();
  }

  async #wait(): Promise<IteratorResult<PubSubMessage | Lagged>> {
    if (this.#reading) throw new TypeError("a subscription is read by one reader at a time");
    this.#reading = true;
    try {
      return await this.#next();
    } finally {
      this.#reading = false;
    }
  }

  async #next(): Promise<IteratorResult<PubSubMessage | Lagged>> {
    for (;;) {
      if (this.#done) {
        const error = this.#error;
        this.#error = undefined; // reported once; then the iterator is simply done
        if (error !== undefined) throw error;
        return DONE;
      }
      const iterator = this.#iterator;
      const events = this.#events;
      if (iterator === undefined) {
        // Between connections: the reconnection opens a new events channel (or the client ends us).
        await this.#changed.promise;
        continue;
      }
      const result = await iterator.next();
      if (events !== this.#events) continue; // replaced by a newer subscription meanwhile
      if (result.done === true) {
        // The hub ended it (it is closing) on a live connection: the subscription ends. A lost
        // connection is the client's to restore.
        if (this.#connectionLost()) this.#install(undefined);
        else this.end();
        continue;
      }
      return { done: false, value: this.#read(result.value.data) };
    }
  }

  /** An event read: checked, and its seq kept for resuming. */
  #read(data: unknown): PubSubMessage | Lagged {
    const item = parseEvent(data);
    if (!("lagged" in item)) this.#lastSeq = item.seq;
    return item;
  }

  return(): Promise<IteratorResult<PubSubMessage | Lagged>> {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  close(): void {
    this.end();
  }

  /** Ends the iteration: a pending read resolves done, or rejects once with `error` if given. */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    if (error !== undefined) this.#ready.reject(error);
    else this.#ready.resolve();
    const events = this.#events;
    this.#install(undefined);
    events?.close();
    this.#onEnd(this);
  }
}

function resolvers(): { promise: Promise<void>; resolve: () => void; reject: (error: unknown) => void } {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((ok, fail) => {
    resolve = ok;
    reject = fail;
  });
  return { promise, resolve, reject };
}

/** Whether `event` has a message's four fields and no other (in any order). */
function isMessageShaped(event: object): event is PubSubMessage {
  let fields = 0;
  for (const key in event) {
    if (key !== "from" && key !== "data" && key !== "seq" && key !== "time") return false;
    fields++;
  }
  return fields === 4 && Object.getPrototypeOf(event) === Object.prototype;
}

/** A subscription event from the hub, checked: a malformed one is the hub's bug, not data. */
function parseEvent(data: unknown): PubSubMessage | Lagged {
  const event = data as Partial<SubscriptionEvent & { lagged: number }> | null;
  if (event !== null && typeof event === "object") {
    if (typeof event.lagged === "number") {
      const { lagged, seq, bytes, at } = event as Lagged;
      // A gap in a byte-stream broadcast says where it is; a plain one is just a count.
      return typeof seq === "number" && typeof bytes === "number" && typeof at === "number"
        ? { lagged, seq, bytes, at }
        : { lagged };
    }
    const { from, seq, time, stream } = event as Partial<PubSubMessage>;
    if (typeof from === "string" && typeof seq === "number" && typeof time === "number") {
      const data = (event as PubSubMessage).data;
      if (stream instanceof ByteStream) return { from, data, seq, time, stream };
      // The decoded event is this subscriber's own object, fresh from the codec: returned as
      // the message itself when it is exactly one (a copy per message was one more object for
      // the collector per delivery), else copied down to the message's fields.
      if (stream === undefined) return isMessageShaped(event) ? event : { from, data, seq, time };
    }
  }
  throw new InvalidMessageError(
    "the hub sent a subscription event that is not a message nor a Lagged notice",
  );
}
