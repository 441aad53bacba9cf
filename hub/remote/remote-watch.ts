import { Channel } from "../../model/channel.js";
import { LaggedError } from "../../model/errors.js";
import { Queue } from "../../model/queue.js";
import type { ServiceFilter, ServiceInfo, Watch, WatchEvent } from "../types.js";
import { MAX_WATCH_BACKLOG } from "../watch.js";
import type { HubRequest } from "./hub-protocol.js";

/**
 * A watch event of a remote hub client. `resync` is true on events the client made up after it
 * reconnected: the difference between what the watch had reported before the connection was
 * lost and what the hub holds now (services that went while it was away are `removed`, those
 * that came, including every re-registration after a hub restart, are `added`).
 */
export interface RemoteWatchEvent extends WatchEvent {
  readonly resync?: true;
}

/** Sends a hub request on one particular connection (no waiting for a reconnection). */
export type HubRequester = <T>(request: HubRequest) => Promise<T>;

/**
 * One `watch()` of a remote hub client that survives reconnections: the iterator keeps going
 * across them.
 *
 * The first subscription is the hub's own watch (with `existing` as asked), passed through.
 * The client keeps what it believes is present — instances it reported `added`, and with
 * `existing: false` those that were there already (listed once, silently) — so that after a
 * reconnection it can report only the difference, marked `resync`. A re-subscription
 * subscribes first and lists second, so nothing that happens in between is missed; what shows
 * up in both is reported once: never two `added` for one instance without a `removed` between.
 *
 * Memory: one entry per matching instance, plus unread events — at most `MAX_WATCH_BACKLOG`,
 * after which the watch ends with `LaggedError` like a hub's own watcher.
 */
export class RemoteWatch implements Watch {
  readonly #filter: ServiceFilter;
  readonly #existing: boolean;
  readonly #onEnd: (watch: RemoteWatch) => void;
  /** Instances the iterator reported `added` (and not `removed`), by id. */
  readonly #reported = new Map<string, ServiceInfo>();
  /** With `existing: false`: instances present before the watch, never reported, by id. */
  readonly #silent = new Map<string, ServiceInfo>();
  readonly #queue = new Queue<RemoteWatchEvent>();
  #reader:
    | { resolve: (result: IteratorResult<RemoteWatchEvent>) => void; reject: (error: unknown) => void }
    | undefined;
  /** Events from the hub that arrived while a re-subscription's list was in flight. */
  #held: WatchEvent[] | undefined;
  #events: Channel | undefined;
  /** Subscriptions made so far (the first is passed through; later ones are reconciled). */
  #opened = 0;
  #lagged = 0;
  #done = false;
  #error: unknown;

  constructor(
    filter: ServiceFilter,
    existing: boolean,
    signal: AbortSignal | undefined,
    onEnd: (watch: RemoteWatch) => void,
  ) {
    this.#filter = filter;
    this.#existing = existing;
    this.#onEnd = onEnd;
    if (signal?.aborted) this.close();
    else signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** True once the iteration ended (closed, lagged, failed). */
  get done(): boolean {
    return this.#done;
  }

  /**
   * Subscribes on a (new) connection. The first time: the hub's watch as asked (and, with
   * `existing: false`, a list of what is there already, kept silently). After a reconnection:
   * the hub's watch without existing instances, then a list, whose difference to what the
   * client believes present is reported as `resync` events. Rejects if the connection fails
   * meanwhile (the next connection subscribes again).
   */
  async open(request: HubRequester, connectionLost: () => boolean): Promise<void> {
    if (this.#done) return;
    const previous = this.#events;
    const first = this.#opened === 0;
    this.#opened += 1;
    const [events, eventsForHub] = Channel.pair();
    this.#events = events;
    previous?.close();
    this.#held = first ? undefined : [];
    void this.#pump(events, connectionLost);
    const filter = this.#filter;
    try {
      const existing = first && this.#existing;
      await request({ op: "watch", filter, existing, events: eventsForHub });
      if (existing) return;
      const snapshot = await request<ServiceInfo[]>({ op: "list", filter });
      if (events !== this.#events) return;
      if (first) {
        for (const service of snapshot) {
          if (!this.#reported.has(service.id)) this.#silent.set(service.id, service);
        }
        return;
      }
      this.#reconcile(snapshot);
      const held = this.#held ?? [];
      this.#held = undefined;
      for (const event of held) this.#apply(event);
    } catch (error) {
      if (this.#events === events) {
        this.#events = undefined;
        this.#held = undefined;
      }
      events.close();
      throw error;
    }
  }

  async #pump(events: Channel, connectionLost: () => boolean): Promise<void> {
    for await (const message of events) {
      if (events !== this.#events) return; // a newer subscription replaced this one
      const event = message.data as WatchEvent;
      if (this.#held !== undefined) this.#held.push(event);
      else this.#apply(event);
    }
    // The hub ended the subscription (it lagged, or it is closing) on a live connection: the
    // watch ends, as a hub's own watcher does. A lost connection is the client's to restore.
    if (events === this.#events && !connectionLost()) this.end();
  }

  /** Reports, as `resync`, the difference between what is believed present and `snapshot`. */
  #reconcile(snapshot: readonly ServiceInfo[]): void {
    const present = new Map(snapshot.map((service) => [service.id, service]));
    for (const believed of [this.#reported, this.#silent]) {
      for (const [id, service] of believed) {
        const now = present.get(id);
        if (now !== undefined && sameInstance(now, service)) continue;
        believed.delete(id);
        this.#emit({ type: "removed", service, resync: true });
      }
    }
    for (const service of snapshot) {
      if (this.#reported.has(service.id) || this.#silent.has(service.id)) continue;
      this.#reported.set(service.id, service);
      this.#emit({ type: "added", service, resync: true });
    }
  }

  /**
   * A live event from the hub, unless it repeats what is known. On the first subscription the
   * hub's stream is exact and passes through (a `removed` of an instance that was there before
   * the watch included); on a re-subscription an event the resync already covered is dropped.
   */
  #apply(event: WatchEvent): void {
    const { service } = event;
    const firstSubscription = this.#opened === 1;
    const reported = this.#reported.get(service.id);
    const silent = this.#silent.get(service.id);
    if (event.type === "added") {
      if (reported !== undefined && sameInstance(reported, service)) return;
      if (!firstSubscription && silent !== undefined && sameInstance(silent, service)) return;
      if (reported !== undefined) this.#emit({ type: "removed", service: reported });
      this.#silent.delete(service.id);
      this.#reported.set(service.id, service);
      this.#emit(event);
      return;
    }
    const known = this.#reported.delete(service.id) || this.#silent.delete(service.id);
    if (known || firstSubscription) this.#emit(event);
  }

  #emit(event: RemoteWatchEvent): void {
    if (this.#done) return;
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader.resolve({ done: false, value: event });
      return;
    }
    if (this.#lagged > 0 || this.#queue.length >= MAX_WATCH_BACKLOG) {
      this.#lagged += 1;
      return;
    }
    this.#queue.push(event);
  }

  next(): Promise<IteratorResult<RemoteWatchEvent>> {
    const event = this.#queue.shift();
    if (event !== undefined) return Promise.resolve({ done: false, value: event });
    if (this.#lagged > 0) {
      const error = new LaggedError(this.#lagged);
      this.#lagged = 0;
      this.end(error);
    }
    if (this.#done) {
      const error = this.#error;
      this.#error = undefined; // reported once; then the iterator is simply done
      return error === undefined ? Promise.resolve({ done: true, value: undefined }) : Promise.reject(error);
    }
    if (this.#reader !== undefined) return Promise.reject(new Error("a watch has one reader at a time"));
    return new Promise((resolve, reject) => (this.#reader = { resolve, reject }));
  }

  return(): Promise<IteratorResult<RemoteWatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** Ends the iteration; idempotent. */
  close(): void {
    this.end();
  }

  /**
   * Ends the iteration: events already queued are still read, then the iterator rejects once
   * with `error` (if given) and is done.
   */
  end(error?: unknown): void {
    if (this.#done) return;
    this.#done = true;
    this.#error = error;
    this.#events?.close();
    this.#events = undefined;
    this.#held = undefined;
    const reader = this.#reader;
    this.#reader = undefined;
    if (reader !== undefined) {
      this.#error = undefined;
      if (error === undefined) reader.resolve({ done: true, value: undefined });
      else reader.reject(error);
    }
    this.#onEnd(this);
  }
}

/** The same instance: ids restart with a restarted hub, so an id alone does not say it. */
function sameInstance(a: ServiceInfo, b: ServiceInfo): boolean {
  return (
    a.name === b.name && a.sessionId === b.sessionId && JSON.stringify(a.labels) === JSON.stringify(b.labels)
  );
}
