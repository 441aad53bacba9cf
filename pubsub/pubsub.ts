import { ByteStream } from "../model/byte-stream.js";
import { ClosedError, InvalidArgumentError, LimitExceededError } from "../model/errors.js";
import { verifyChannelName } from "./channel-name.js";
import { verifyPubSubOptions, verifySubscribeOptions } from "./options.js";
import type { PubSubConfig } from "./options.js";
import type { ChannelSubscription } from "./subscription.js";
import { PubSubCounters, type PubSubFigures } from "./pubsub-counters.js";
import { StreamFanout } from "./stream-fanout.js";
import { Topic } from "./topic.js";
import type {
  ChannelInfo,
  PubSubMessage,
  PubSubOptions,
  PubSubPersistence,
  PublishOptions,
  SubscribeOptions,
} from "./types.js";

/** What {@link PubSub.relay} hears of a publication: the channel, the data, the publisher. */
export type PublishedListener = (channel: string, data: unknown, from: string) => void;

/**
 * Named channels many publish to and many subscribe to: every message tagged with its
 * publisher's identity, numbered, kept in a bounded history for late joiners, and handed to each
 * subscriber under its own slow-reader policy. One per hub (`hub.pubsub`); the hub's faces (its
 * API on every transport, the CLI, the Mles WebSocket face) are all built on this one.
 *
 * Memory is bounded: per channel `history`/`historyBytes`, per subscriber `ring` messages, at
 * most `maxChannels` channels (the least recently published idle one is forgotten to make room).
 */
export class PubSub {
  readonly #config: PubSubConfig;
  readonly #topics = new Map<string, Topic>();
  readonly #log: PubSubPersistence | undefined;
  readonly #relays = new Set<PublishedListener>();
  readonly #counters = new PubSubCounters();
  #closed = false;

  constructor(options: PubSubOptions = {}) {
    this.#config = verifyPubSubOptions(options);
    this.#log = options.log;
    if (this.#log !== undefined) {
      for (const [channel, messages] of this.#log.restored) {
        const topic = this.#topic(channel, false);
        for (const message of messages) topic.restore(message);
      }
      this.#log.setLive(() => this.#liveHistory());
    }
  }

  /**
   * Publishes `data` to `channel` as `from` (the publisher's identity; a hub passes its
   * session's, never one taken from the message). Resolves to the message's `seq` and `time`
   * once every subscriber has it queued (and the log has it, when persisted); waits while a
   * `wait` subscriber's window is full, failing with `PublishTimeoutError` after the publish timeout.
   * `options.origin` names the publishing session, for `echo: false` (see {@link subscribe}).
   */
  publish(
    channel: string,
    data: unknown,
    from: string,
    options: PublishOptions = {},
  ): Promise<{ seq: number; time: number }> {
    const { stream } = options;
    try {
      this.#checkOpen();
      verifyChannelName(channel);
      if (typeof from !== "string") throw new InvalidArgumentError("publisher identity must be a string");
      if (stream !== undefined && !(stream instanceof ByteStream)) {
        throw new InvalidArgumentError("publish option stream must be a ByteStream");
      }
      // A broadcast stream is not kept, so neither is its message.
      const prepared = stream === undefined ? this.#log?.prepare(data) : undefined;
      const topic = this.#topic(channel, true);
      const fanout =
        stream === undefined ? undefined : new StreamFanout(stream, channel, this.#config.publishTimeout);
      const published = topic.publish(data, from, options.origin, fanout);
      // A broadcast's stream stays on this hub; its message is not relayed either.
      if (stream === undefined) for (const relay of this.#relays) relay(channel, data, from);
      if (topic.idle && topic.history.count === 0) this.#topics.delete(channel);
      if (published instanceof Promise) {
        return published.then(
          (message) => this.#logged(channel, message, prepared, stream),
          (error: unknown) => {
            stream?.reset(error);
            throw error;
          },
        );
      }
      return this.#logged(channel, published, prepared, stream);
    } catch (error) {
      if (stream instanceof ByteStream) stream.reset(error);
      return Promise.reject(error as Error);
    }
  }

  /**
   * Calls `listener` with every message accepted here from now on, after its subscribers have it
   * (a cluster relays them to the other hubs). Returns the means to stop.
   */
  relay(listener: PublishedListener): () => void {
    this.#relays.add(listener);
    return () => this.#relays.delete(listener);
  }

  /**
   * Subscribes `subscriber` (its identity) to `channel`: its kept history first (as
   * `options.history` says), then every message published from now on. With `echo: false` the
   * publications of the same `origin` (the subscribing session: any object) are left out; without
   * an origin, those of the same identity are (a face with one connection per identity, as Mles).
   */
  subscribe(
    channel: string,
    subscriber: string,
    options: SubscribeOptions = {},
    origin?: object,
  ): ChannelSubscription {
    this.#checkOpen();
    verifyChannelName(channel);
    if (typeof subscriber !== "string")
      throw new InvalidArgumentError("subscriber identity must be a string");
    const { history, echo, lag, ring, ringBytes, after } = verifySubscribeOptions(
      options,
      this.#config.maxRing,
      this.#config.maxRingBytes,
    );
    return this.#topic(channel, true).subscribe(
      subscriber,
      origin,
      lag,
      ring,
      ringBytes,
      echo,
      history,
      after,
    );
  }

  /** The largest `ring` and `ringBytes` a subscriber may ask for (options `maxRing`, `maxRingBytes`). */
  get ringLimits(): { readonly maxRing: number; readonly maxRingBytes: number } {
    return { maxRing: this.#config.maxRing, maxRingBytes: this.#config.maxRingBytes };
  }

  /** Every channel with subscribers, history or waiting publications, by name. */
  channels(): ChannelInfo[] {
    const infos: ChannelInfo[] = [];
    for (const topic of this.#topics.values()) infos.push({ name: topic.name, ...topic.info() });
    return infos.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /**
   * The figures of every channel together, and the totals since the start (for the metrics:
   * nothing per channel, whose names peers choose).
   */
  figures(): PubSubFigures {
    let subscribers = 0;
    let historyMessages = 0;
    let historyBytes = 0;
    for (const topic of this.#topics.values()) {
      subscribers += topic.subscribers;
      historyMessages += topic.history.count;
      historyBytes += topic.history.bytes;
    }
    const { published, delivered, dropped } = this.#counters;
    return {
      channels: this.#topics.size,
      subscribers,
      historyMessages,
      historyBytes,
      published,
      delivered,
      dropped,
    };
  }

  /** Ends every subscription, fails every waiting publication with `ClosedError`, closes the log. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    for (const topic of [...this.#topics.values()]) topic.close();
    this.#topics.clear();
    return this.#log?.close() ?? Promise.resolve();
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError("pub/sub");
  }

  #logged(
    channel: string,
    message: PubSubMessage,
    prepared: unknown,
    stream: ByteStream | undefined,
  ): Promise<{ seq: number; time: number }> {
    this.#counters.published++;
    const result = { seq: message.seq, time: message.time };
    if (this.#log === undefined || stream !== undefined) return Promise.resolve(result);
    return this.#log.append(channel, message, prepared).then(() => result);
  }

  #topic(name: string, limited: boolean): Topic {
    let topic = this.#topics.get(name);
    if (topic !== undefined) return topic;
    if (limited && this.#topics.size >= this.#config.maxChannels) this.#forgetOneIdle();
    const limits = this.#config.channels.get(name) ?? this.#config;
    const onIdle = (idle: Topic): void => {
      // A channel nobody listens to and that keeps nothing costs memory for nothing.
      if (idle.history.count === 0 && this.#topics.get(idle.name) === idle) this.#topics.delete(idle.name);
    };
    topic = new Topic(
      name,
      limits.history,
      limits.historyBytes,
      this.#config.publishTimeout,
      onIdle,
      this.#counters,
    );
    this.#topics.set(name, topic);
    return topic;
  }

  /** Makes room for a new channel by forgetting the idle one published to least recently. */
  #forgetOneIdle(): void {
    let oldest: Topic | undefined;
    for (const topic of this.#topics.values()) {
      if (topic.idle && (oldest === undefined || topic.lastTime < oldest.lastTime)) oldest = topic;
    }
    if (oldest === undefined) {
      throw new LimitExceededError(
        "maxChannels",
        `pub/sub already has ${this.#config.maxChannels} channels in use (maxChannels); none is idle to make room`,
      );
    }
    this.#topics.delete(oldest.name);
  }

  *#liveHistory(): Iterable<readonly [string, readonly PubSubMessage[]]> {
    for (const topic of this.#topics.values()) {
      if (topic.history.count > 0) yield [topic.name, topic.history.last()];
    }
  }
}
