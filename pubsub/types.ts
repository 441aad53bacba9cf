import type { ByteStream } from "../model/byte-stream.js";

/** One publication as a subscriber receives it. */
export interface PubSubMessage {
  /** The publisher's identity, set by the hub from its authenticated session (never from the message). */
  readonly from: string;
  /** What was published: any codec value (a `string` or `Uint8Array` passes through as is). */
  readonly data: unknown;
  /** Position in the channel: 1 for its first message, then +1 per message, kept across restarts when persisted. */
  readonly seq: number;
  /** When the hub accepted it, in milliseconds since the epoch. */
  readonly time: number;
  /**
   * A byte-stream broadcast: this subscriber's own copy of the publisher's stream, to read from
   * `stream.readable` (what it writes is discarded). Not kept in history. Close its `writable`
   * (or `reset()` it) when done, as with any byte stream, so both ends are released.
   */
  readonly stream?: ByteStream;
}

/**
 * Told to a `drop-oldest` subscriber once, in place of the messages its ring had to drop, as
 * conec's `Lagged(n)`: `lagged` is how many were dropped since its previous read. Delivery then
 * goes on with the oldest message still kept.
 */
export interface Lagged {
  readonly lagged: number;
  /**
   * Set when the notice is about a byte-stream broadcast (a `drop-oldest` subscriber that read
   * its copy too slowly): then `lagged` chunks, `bytes` bytes in all, of broadcast `seq` were
   * dropped at byte offset `at` of that subscriber's stream.
   */
  readonly seq?: number;
  readonly bytes?: number;
  readonly at?: number;
}

/** How a subscriber that reads slower than the channel is published to is treated. */
export type LagPolicy = "wait" | "drop-oldest";

/** Options of `subscribe`. */
export interface SubscribeOptions {
  /**
   * Replay the channel's kept history before live messages: `true` all of it (the default),
   * `false` none, a number the last `n`. Oldest first, with no gap and no duplicate at the seam.
   */
  history?: boolean | number;
  /**
   * Receive this subscriber's own publications (default true, as conec; Mles passes false).
   * History is replayed whole either way, as Mles does.
   */
  echo?: boolean;
  /**
   * `drop-oldest` (default): a ring of `ring` messages; when it is full the oldest goes and the
   * subscriber reads one `Lagged` later. `wait`: when this subscriber holds `ring` unread
   * messages, publishing to the channel waits for it (up to the publish timeout, then
   * `PublishTimeoutError`).
   */
  lag?: LagPolicy;
  /**
   * Resume after this seq instead of replaying `history`: the kept messages newer than it, with
   * a `Lagged` first for those no longer kept. A seq beyond the channel's newest (its numbering
   * restarted with a hub that kept no history) replays all that is kept. Clients that reconnect
   * pass the last seq they read, so that they miss nothing they could have and repeat nothing.
   */
  after?: number;
  /** Unread messages held for this subscriber: the ring (drop-oldest) or the window (wait). Default 1024. */
  ring?: number;
  /**
   * The same bound in estimated bytes (default 8 MiB): the ring also counts bytes, so a stalled
   * subscriber holds at most this much whatever the message size (one message always fits).
   */
  ringBytes?: number;
}

/** Options of `PubSub.publish` (what a hub passes besides the publisher's identity). */
export interface PublishOptions {
  /**
   * The publishing session (any object): a subscription with `echo: false` and the same origin
   * does not get the publication; other sessions of the same identity do.
   */
  origin?: object;
  /**
   * Broadcasts this byte stream (the hub's end of it: what the publisher writes is read from
   * it): every subscriber gets the message with its own copy, fanned out under its lag policy
   * (`StreamFanout`). Such a publication is numbered like any other but not kept in history.
   */
  stream?: ByteStream;
}

/** A channel as `channels()` lists it. */
export interface ChannelInfo {
  readonly name: string;
  /** Live subscriptions. */
  readonly subscribers: number;
  /** Messages kept for late joiners and their estimated size. */
  readonly history: { readonly count: number; readonly bytes: number };
  /** Seq of the newest message (0 when none was published). */
  readonly seq: number;
  /** Messages per second published over the last 10 seconds. */
  readonly rate: number;
  /**
   * Messages dropped for its slow `drop-oldest` subscribers (each told with `Lagged`), one per
   * subscriber and message, since the channel came to be (a channel forgotten while idle starts over).
   */
  readonly lagged: number;
}

/** History limits of one channel. */
export interface HistoryLimits {
  /** Messages kept (default 200; 0 keeps none). */
  history?: number;
  /** Estimated bytes kept (default 1 MiB); the oldest go first when over. */
  historyBytes?: number;
}

/** Options of `new PubSub()`. */
export interface PubSubOptions extends HistoryLimits {
  /** Per-channel history limits, by exact channel name, over the defaults above. */
  channels?: Readonly<Record<string, HistoryLimits>>;
  /** Milliseconds a publish may wait for `wait` subscribers before `PublishTimeoutError` (default 10 000). */
  publishTimeout?: number;
  /** Channels that may exist at once (default 1024): bounds memory at `maxChannels × historyBytes`. */
  maxChannels?: number;
  /** Largest `ring` a subscriber may ask for (default 65 536). */
  maxRing?: number;
  /** Largest `ringBytes` a subscriber may ask for (default 64 MiB). */
  maxRingBytes?: number;
  /** Keeps history across restarts (see `PubSubLog.open`). */
  log?: PubSubPersistence;
}

/** Where a PubSub writes what it publishes so that a restart keeps history (pubsub/history-log.ts). */
export interface PubSubPersistence {
  /** The history read at open: per channel, its kept messages oldest first. */
  readonly restored: ReadonlyMap<string, readonly PubSubMessage[]>;
  /**
   * Turns a publication's data into what `append` writes, before the message is published: a
   * value that cannot be kept fails its publish, not the log.
   */
  prepare(data: unknown): unknown;
  /** Records one publication (with what `prepare` made of its data); resolves once written. */
  append(channel: string, message: PubSubMessage, prepared: unknown): Promise<void>;
  /** Lets the log drop what history no longer keeps (compaction): called with every channel's kept messages. */
  setLive(live: () => Iterable<readonly [string, readonly PubSubMessage[]]>): void;
  close(): Promise<void>;
}
