import { LaggedError } from "../model/errors.js";
import { labelsMatch } from "./names.js";
import { Queue } from "../model/queue.js";
import type { ServiceFilter, Watch, WatchEvent } from "./types.js";

/** Events a watcher may have unread before it is ended with `LaggedError`. */
export const MAX_WATCH_BACKLOG = 10_000;

/** True when a registration matches a filter. */
export function matchesFilter(
  service: { name: string; labels: Readonly<Record<string, string>> },
  filter: ServiceFilter,
): boolean {
  if (filter.name !== undefined && service.name !== filter.name) return false;
  if (filter.prefix !== undefined && !service.name.startsWith(filter.prefix)) return false;
  return labelsMatch(service.labels, filter.labels);
}

/**
 * One `watch()` iteration: a bounded queue of registry events. A watcher that stops reading
 * does not make the hub buffer forever: past `MAX_WATCH_BACKLOG` unread events it ends with a
 * `LaggedError` saying how many it missed, and the caller can list and watch again.
 */
export class Watcher implements Watch {
  readonly #queue = new Queue<WatchEvent>();
  #reader: ((result: IteratorResult<WatchEvent>) => void) | undefined;
  #done = false;
  #lagged = 0;
  #onClose: (watcher: Watcher) => void;

  /** True once ended (closed, aborted or lagged). */
  get done(): boolean {
    return this.#done;
  }

  constructor(
    readonly filter: ServiceFilter,
    onClose: (watcher: Watcher) => void,
    signal?: AbortSignal,
  ) {
    this.#onClose = onClose;
    if (signal?.aborted) this.close();
    else signal?.addEventListener("abort", () => this.close(), { once: true });
  }

  /** Offers an event; ignored unless it matches the filter. */
  push(event: WatchEvent): void {
    if (this.#done || !matchesFilter(event.service, this.filter)) return;
    const reader = this.#reader;
    if (reader !== undefined) {
      this.#reader = undefined;
      reader({ done: false, value: event });
      return;
    }
    if (this.#lagged > 0 || this.#queue.length >= MAX_WATCH_BACKLOG) {
      this.#lagged += 1;
      return;
    }
    this.#queue.push(event);
  }

  next(): Promise<IteratorResult<WatchEvent>> {
    const event = this.#queue.shift();
    if (event !== undefined) return Promise.resolve({ done: false, value: event });
    if (this.#lagged > 0) {
      const missed = this.#lagged;
      this.close();
      return Promise.reject(new LaggedError(missed));
    }
    if (this.#done) return Promise.resolve({ done: true, value: undefined });
    return new Promise((resolve) => (this.#reader = resolve));
  }

  return(): Promise<IteratorResult<WatchEvent>> {
    this.close();
    return Promise.resolve({ done: true, value: undefined });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  close(): void {
    if (this.#done) return;
    this.#done = true;
    this.#queue.drain();
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.({ done: true, value: undefined });
    this.#onClose(this);
  }
}
