import type { PubSubCounters } from "./pubsub-counters.js";
import type { ByteStream } from "../model/byte-stream.js";
import { StreamResetError } from "../model/errors.js";
import type { Lagged, LagPolicy, PubSubMessage } from "./types.js";

/** A live subscription to one channel: iterate it for messages (and `Lagged` notices); close to leave. */
export interface Subscription extends AsyncIterable<PubSubMessage | Lagged> {
  /** The channel subscribed to. */
  readonly channel: string;
  /** Leaves the channel; a pending and every later read ends the iteration. Idempotent. */
  close(): void;
}

/** What a subscription tells the channel it belongs to. */
export interface SubscriptionOwner {
  /** A `wait` subscription's window filled up: publications wait for it until it reads. */
  filled(subscription: ChannelSubscription): void;
  /** A `wait` subscription whose window was full read a message: a publisher waiting for room may go on. */
  freed(subscription: ChannelSubscription): void;
  /** The subscription closed. */
  left(subscription: ChannelSubscription): void;
  /** Pub/sub's totals: deliveries and drops are counted where they happen. */
  readonly counters: PubSubCounters;
  /** Messages dropped for this channel's slow subscribers (its `lagged` figure in `channels()`). */
  dropped: number;
}

/** Whether `item` is a `Lagged` notice rather than a message. */
export function isLagged(item: PubSubMessage | Lagged): item is Lagged {
  return (item as Partial<Lagged>).lagged !== undefined;
}

/** Unread notices of gaps in byte-stream broadcasts kept apart; later ones are merged. */
const MAX_NOTICES = 64;

/** A broadcast's message that will never be read: its copy of the stream is released. */
function dropStream(message: PubSubMessage, why: string): void {
  message.stream?.reset(new StreamResetError(`byte stream broadcast ${message.seq} dropped: ${why}`));
}

/** Live-queue slots kept for reuse once drained (a subscriber that keeps up needs a few). */
const REUSED_LIVE = 64;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });
const READY = Promise.resolve();

/**
 * One subscriber's queue: first the history snapshot taken when it joined, then live messages
 * in a bounded buffer of `ring` (dropping the oldest, or making publishers wait, as its policy
 * says). Reading is pull-based: a remote face takes messages only as fast as its peer grants
 * credit, so what the hub holds for a stalled subscriber never exceeds the ring.
 */
export class ChannelSubscription implements Subscription, AsyncIterator<PubSubMessage | Lagged> {
  #replay: PubSubMessage[];
  #replayAt = 0;
  readonly ring: number;
  readonly ringBytes: number;
  /** Unread live messages are `#live[#liveHead, #liveEnd)`; the array is reused once drained. */
  #live: PubSubMessage[] = [];
  /** Estimated sizes of `#live`'s messages, index for index, and their sum from `#liveHead` on. */
  #sizes: number[] = [];
  #liveEnd = 0;
  #bytes = 0;
  #liveHead = 0;
  #lagged = 0;
  #missed: number;
  /** Copies of byte-stream broadcasts handed to the reader and still open (reset on close). */
  readonly #copies = new Set<ByteStream>();
  /** Gaps in byte-stream broadcasts, to tell before the next message. */
  #notices: Lagged[] = [];
  #closed = false;
  /** A `wait` subscription without room, as its owner was told (see `filled` and `freed`). */
  #full = false;
  #onClose: (() => void)[] | undefined;
  #reader: ((result: IteratorResult<PubSubMessage | Lagged>) => void) | undefined;
  #readable: (() => void) | undefined;
  /** The one listener of {@link whenReadable}, called in a microtask on the next wake. */
  #listener: (() => void) | undefined;

  constructor(
    readonly channel: string,
    /** The subscriber's identity. */
    readonly subscriber: string,
    /**
     * The subscribing session: with `echo` false, publications of this same origin are skipped
     * (of the same identity when there is none).
     */
    readonly origin: object | undefined,
    readonly lag: LagPolicy,
    /** Unread live messages held at most: this many, and about this many bytes (one message always fits). */
    limits: { messages: number; bytes: number },
    readonly echo: boolean,
    replay: PubSubMessage[],
    private readonly owner: SubscriptionOwner,
    /** Messages the subscriber asked for that are no longer kept: reported as `Lagged` first. */
    missed = 0,
  ) {
    this.ring = limits.messages;
    this.ringBytes = limits.bytes;
    this.#replay = replay;
    this.#missed = missed;
  }

  /** Resolved: an in-process subscription exists as soon as `subscribe` returns. */
  get ready(): Promise<void> {
    return READY;
  }

  /** Unread live messages (history replay not counted). */
  get buffered(): number {
    return this.#liveEnd - this.#liveHead;
  }

  /** Whether a `wait` subscription can take one more message without exceeding its window. */
  get hasRoom(): boolean {
    return this.buffered < this.ring && this.#bytes < this.ringBytes;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Whether a publication by `from` (of `origin`) is left out of this subscription (`echo: false`). */
  skips(from: string, origin: object | undefined): boolean {
    if (this.echo) return false;
    return this.origin === undefined ? from === this.subscriber : origin === this.origin;
  }

  /**
   * A broadcast's copy handed to the reader lives as long as this subscription (as it does
   * over a connection, where the subscription's channel owns what it delivered).
   */
  #hold(stream: ByteStream): void {
    this.#copies.add(stream);
    void stream.closed.then(() => this.#copies.delete(stream));
  }

  /** @internal Called by the channel for every publication, in order. */
  deliver(message: PubSubMessage, bytes: number, origin?: object): void {
    if (this.#closed || this.skips(message.from, origin)) return;
    this.owner.counters.delivered++;
    if (this.#reader !== undefined) {
      // Someone is waiting, so nothing is buffered: hand it over directly.
      const reader = this.#reader;
      this.#reader = undefined;
      if (message.stream !== undefined) this.#hold(message.stream);
      reader({ done: false, value: message });
      return;
    }
    this.#live[this.#liveEnd] = message;
    this.#sizes[this.#liveEnd++] = bytes;
    this.#bytes += bytes;
    if (this.lag === "drop-oldest") {
      while (this.buffered > this.ring || (this.#bytes > this.ringBytes && this.buffered > 1)) {
        this.#bytes -= this.#sizes[this.#liveHead]!;
        dropStream(this.#live[this.#liveHead]!, "the subscriber's ring was full");
        this.#live[this.#liveHead++] = undefined as unknown as PubSubMessage;
        this.#lagged++;
        this.owner.counters.dropped++;
        this.owner.dropped++;
      }
      // A subscriber that stopped reading: the slots of what was dropped are let go of too.
      this.#compact();
    } else if (!this.hasRoom && !this.#full) {
      this.#full = true;
      this.owner.filled(this);
    }
    this.#wake();
  }

  /**
   * @internal A gap in a byte-stream broadcast this subscriber reads (see `StreamFanout`): told
   * before the next message. Notices of one gap (same `seq` and `at`) are merged while unread;
   * at most {@link MAX_NOTICES} wait, later ones are counted into the last.
   */
  notify(notice: Lagged): void {
    if (this.#closed) return;
    if (this.#reader !== undefined) {
      const reader = this.#reader;
      this.#reader = undefined;
      reader({ done: false, value: notice });
      return;
    }
    const last = this.#notices.at(-1);
    const sameGap = last !== undefined && last.seq === notice.seq && last.at === notice.at;
    if (!sameGap && this.#notices.length < MAX_NOTICES) this.#notices.push(notice);
    else {
      // One gap growing, or too many unread: counted into the last one (whose `seq` and `at`
      // stay those of its own gap).
      this.#notices[this.#notices.length - 1] = {
        ...last!,
        lagged: last!.lagged + notice.lagged,
        bytes: (last!.bytes ?? 0) + (notice.bytes ?? 0),
      };
    }
    this.#wake();
  }

  /**
   * Takes the next item without waiting: a message, a `Lagged` notice, `undefined` when nothing
   * is buffered, or `null` once the subscription is closed.
   */
  take(): PubSubMessage | Lagged | undefined | null {
    if (this.#closed) return null;
    if (this.#missed > 0) {
      const lagged = this.#missed;
      this.#missed = 0;
      return { lagged };
    }
    if (this.#notices.length > 0) return this.#notices.shift()!;
    if (this.#replayAt < this.#replay.length) {
      const message = this.#replay[this.#replayAt++]!;
      if (this.#replayAt === this.#replay.length) this.#replay = [];
      return message;
    }
    if (this.#lagged > 0) {
      const lagged = this.#lagged;
      this.#lagged = 0;
      return { lagged };
    }
    if (this.#liveHead === this.#liveEnd) return undefined;
    const message = this.#live[this.#liveHead]!;
    this.#bytes -= this.#sizes[this.#liveHead]!;
    this.#live[this.#liveHead++] = undefined as unknown as PubSubMessage;
    if (this.#liveHead === this.#liveEnd) {
      // Drained: written from the start again. Two fresh arrays per drain were two allocations
      // per delivery for a subscriber that keeps up; one that held a long backlog lets go of it.
      if (this.#live.length > REUSED_LIVE) {
        this.#live = [];
        this.#sizes = [];
      }
      this.#liveHead = 0;
      this.#liveEnd = 0;
      this.#bytes = 0;
    } else this.#compact();
    // Told only when room comes back: a channel checks its publishers then, not on every read
    // (a check per read went over every `wait` subscriber: 100 subscribers, 100 per delivery).
    if (this.#full && this.hasRoom) {
      this.#full = false;
      this.owner.freed(this);
    }
    if (message.stream !== undefined) this.#hold(message.stream);
    return message;
  }

  /** Resolves once {@link take} has something to return (or the subscription closed). */
  readable(): Promise<void> {
    if (this.#closed || this.#hasItem()) return Promise.resolve();
    return new Promise((resolve) => {
      const previous = this.#readable;
      this.#readable = () => {
        previous?.();
        resolve();
      };
    });
  }

  /**
   * @internal Calls `listener` once, in a microtask, when {@link take} has something to return
   * or the subscription closed: {@link readable} without a promise, for a face that forwards
   * every message (a promise per message was a good part of the hub's CPU per delivery). One
   * listener at a time; called from a microtask, never from inside a publication.
   */
  whenReadable(listener: () => void): void {
    if (this.#closed || this.#hasItem()) queueMicrotask(listener);
    else this.#listener = listener;
  }

  next(): Promise<IteratorResult<PubSubMessage | Lagged>> {
    const item = this.take();
    if (item === null) return Promise.resolve(DONE);
    if (item !== undefined) return Promise.resolve({ done: false, value: item });
    if (this.#reader !== undefined) {
      return Promise.reject(new TypeError("a subscription is read by one reader at a time"));
    }
    return new Promise((resolve) => {
      this.#reader = resolve;
    });
  }

  return(): Promise<IteratorResult<PubSubMessage | Lagged>> {
    this.close();
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<PubSubMessage | Lagged> {
    return this;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#replay = [];
    for (let at = this.#liveHead; at < this.#liveEnd; at++) {
      dropStream(this.#live[at]!, "the subscription closed before reading it");
    }
    this.#notices = [];
    for (const copy of this.#copies) copy.reset(new StreamResetError("its subscription closed"));
    this.#copies.clear();
    this.#live = [];
    this.#sizes = [];
    this.#bytes = 0;
    this.#liveHead = 0;
    this.#liveEnd = 0;
    this.#reader?.(DONE);
    this.#reader = undefined;
    this.#wake();
    this.owner.left(this);
    const listeners = this.#onClose;
    this.#onClose = undefined;
    if (listeners !== undefined) for (const listener of listeners) listener();
  }

  /** Calls `listener` once the subscription closes (at once if it has). */
  onClose(listener: () => void): void {
    if (this.#closed) listener();
    else (this.#onClose ??= []).push(listener);
  }

  /** Lets go of the read (or dropped) slots once they are most of the queue's array. */
  #compact(): void {
    if (this.#liveHead > 1024 && this.#liveHead * 2 > this.#liveEnd) {
      this.#live = this.#live.slice(this.#liveHead, this.#liveEnd);
      this.#sizes = this.#sizes.slice(this.#liveHead, this.#liveEnd);
      this.#liveEnd -= this.#liveHead;
      this.#liveHead = 0;
    }
  }

  #hasItem(): boolean {
    return (
      this.#missed > 0 ||
      this.#notices.length > 0 ||
      this.#replayAt < this.#replay.length ||
      this.#lagged > 0 ||
      this.#liveHead < this.#liveEnd
    );
  }

  #wake(): void {
    const listener = this.#listener;
    if (listener !== undefined) {
      this.#listener = undefined;
      queueMicrotask(listener);
    }
    const readable = this.#readable;
    if (readable === undefined) return;
    this.#readable = undefined;
    readable();
  }
}
