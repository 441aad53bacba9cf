import { ClosedError, LimitExceededError, PublishTimeoutError } from "../model/errors.js";
import { History, messageBytes } from "./history.js";
import { PubSubCounters } from "./pubsub-counters.js";
import { RateMeter } from "./rate.js";
import type { StreamFanout } from "./stream-fanout.js";
import { ChannelSubscription } from "./subscription.js";
import type { SubscriptionOwner } from "./subscription.js";
import type { ChannelInfo, PubSubMessage } from "./types.js";

/**
 * Publications one channel may hold waiting for `wait` subscribers. Each costs a timer and its
 * data; past this many a publish fails at once instead of piling up.
 */
export const MAX_PENDING_PUBLISHES = 1024;

interface PendingPublish {
  readonly data: unknown;
  readonly from: string;
  readonly origin: object | undefined;
  readonly fanout: StreamFanout | undefined;
  readonly resolve: (message: PubSubMessage) => void;
  readonly reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * One channel: its history, its subscribers and the publications waiting for room. Every
 * publication is committed in one synchronous step — numbered, kept, handed to every subscriber
 * — so a subscriber that joins between two publications gets the first in its history snapshot
 * and the second live: no gap, no duplicate.
 */
export class Topic implements SubscriptionOwner {
  readonly history: History;
  readonly #rate = new RateMeter();
  readonly #subscribers = new Set<ChannelSubscription>();
  /**
   * The `wait` subscribers whose window is full: the only ones a publication may have to wait
   * for. Kept as they fill and read (not found by going over every subscriber on every read).
   */
  readonly #full = new Set<ChannelSubscription>();
  readonly #pending: PendingPublish[] = [];
  #seq = 0;
  /** When the newest message was published, to pick which idle channel to forget first. */
  lastTime = 0;
  /** Messages its `drop-oldest` subscribers lost (counted by them as they drop). */
  dropped = 0;

  constructor(
    readonly name: string,
    historyLimit: number,
    historyBytes: number,
    private readonly publishTimeout: number,
    private readonly onIdle: (topic: Topic) => void,
    /** Pub/sub's totals (shared by every channel). */
    readonly counters: PubSubCounters = new PubSubCounters(),
  ) {
    this.history = new History(historyLimit, historyBytes);
  }

  get seq(): number {
    return this.#seq;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  get rate(): number {
    return this.#rate.rate;
  }

  /** Nothing depends on this channel any more: no subscriber, no waiting publication. */
  get idle(): boolean {
    return this.#subscribers.size === 0 && this.#pending.length === 0;
  }

  /** Puts back a message read from the persistent log (at startup, before anyone subscribes). */
  restore(message: PubSubMessage): void {
    this.history.add(message);
    this.#seq = Math.max(this.#seq, message.seq);
    this.lastTime = Math.max(this.lastTime, message.time);
  }

  /** Publishes now when every `wait` subscriber has room, else once they do (or fails at the timeout). */
  publish(
    data: unknown,
    from: string,
    origin?: object,
    fanout?: StreamFanout,
  ): PubSubMessage | Promise<PubSubMessage> {
    if (this.#pending.length === 0 && this.#roomFor(from, origin)) {
      return this.#commit(data, from, origin, fanout);
    }
    if (this.#pending.length >= MAX_PENDING_PUBLISHES) {
      return Promise.reject(
        new LimitExceededError(
          "pendingPublishes",
          `channel "${this.name}" already has ${MAX_PENDING_PUBLISHES} publications waiting for a slow subscriber`,
        ),
      );
    }
    return new Promise((resolve, reject) => {
      const pending: PendingPublish = { data, from, origin, fanout, resolve, reject, timer: undefined };
      if (this.publishTimeout > 0) {
        pending.timer = setTimeout(() => {
          const at = this.#pending.indexOf(pending);
          if (at >= 0) this.#pending.splice(at, 1);
          reject(new PublishTimeoutError(this.name, this.publishTimeout));
          // The timed-out one may have been the head: those behind it may fit now.
          this.#pump();
          this.#checkIdle();
        }, this.publishTimeout);
      }
      this.#pending.push(pending);
    });
  }

  subscribe(
    subscriber: string,
    origin: object | undefined,
    lag: "wait" | "drop-oldest",
    ring: number,
    ringBytes: number,
    echo: boolean,
    history: number | undefined,
    after?: number,
  ): ChannelSubscription {
    let replay: PubSubMessage[];
    let missed = 0;
    if (after === undefined) replay = history === 0 ? [] : this.history.last(history);
    else if (after > this.#seq) replay = this.history.last();
    else {
      replay = this.history.after(after);
      missed = Math.max(0, (replay[0]?.seq ?? this.#seq + 1) - after - 1);
    }
    const subscription = new ChannelSubscription(
      this.name,
      subscriber,
      origin,
      lag,
      { messages: ring, bytes: ringBytes },
      echo,
      replay,
      this,
      missed,
    );
    this.#subscribers.add(subscription);
    return subscription;
  }

  filled(subscription: ChannelSubscription): void {
    this.#full.add(subscription);
  }

  freed(subscription: ChannelSubscription): void {
    this.#full.delete(subscription);
    if (this.#pending.length > 0) this.#pump();
  }

  left(subscription: ChannelSubscription): void {
    this.#subscribers.delete(subscription);
    if (this.#full.delete(subscription)) this.#pump();
    this.#checkIdle();
  }

  /** Ends every subscription and fails every waiting publication. */
  close(): void {
    for (const pending of this.#pending.splice(0)) {
      clearTimeout(pending.timer);
      pending.reject(new ClosedError(`pub/sub channel "${this.name}"`));
    }
    for (const subscription of [...this.#subscribers]) subscription.close();
  }

  info(): Omit<ChannelInfo, "name"> {
    return {
      subscribers: this.#subscribers.size,
      history: { count: this.history.count, bytes: this.history.bytes },
      seq: this.#seq,
      rate: this.#rate.rate,
      lagged: this.dropped,
    };
  }

  #roomFor(from: string, origin: object | undefined): boolean {
    for (const subscription of this.#full) if (!subscription.skips(from, origin)) return false;
    return true;
  }

  #commit(
    data: unknown,
    from: string,
    origin: object | undefined,
    fanout: StreamFanout | undefined,
  ): PubSubMessage {
    const time = Date.now();
    const seq = ++this.#seq;
    const message: PubSubMessage = { from, data, seq, time };
    this.lastTime = time;
    this.#rate.mark();
    if (fanout !== undefined) {
      this.#commitStream(message, origin, fanout);
      return message;
    }
    // Estimated once: history and every subscriber's byte cap count the same figure.
    const bytes = messageBytes(message);
    this.history.add(message, bytes);
    for (const subscription of this.#subscribers) subscription.deliver(message, bytes, origin);
    return message;
  }

  /**
   * A byte-stream broadcast: each subscriber gets the message with its own copy of the stream
   * (not kept in history: a late joiner cannot read what has already gone by).
   */
  #commitStream(message: PubSubMessage, origin: object | undefined, fanout: StreamFanout): void {
    const bytes = messageBytes(message);
    for (const subscription of this.#subscribers) {
      if (subscription.closed || subscription.skips(message.from, origin)) continue;
      const stream = fanout.add(subscription.lag, subscription.ringBytes, (lagged) =>
        subscription.notify(lagged),
      );
      subscription.deliver({ ...message, stream }, bytes, origin);
    }
    fanout.start(message.seq);
  }

  #pump(): void {
    while (this.#pending.length > 0 && this.#roomFor(this.#pending[0]!.from, this.#pending[0]!.origin)) {
      const pending = this.#pending.shift()!;
      clearTimeout(pending.timer);
      pending.resolve(this.#commit(pending.data, pending.from, pending.origin, pending.fanout));
    }
  }

  #checkIdle(): void {
    if (this.idle) this.onIdle(this);
  }
}
