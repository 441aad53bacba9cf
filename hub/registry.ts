import type { Instance } from "./instance.js";
import type { Labels } from "./names.js";
import { ServiceEntry } from "./service-entry.js";
import { SortedNames } from "./sorted-names.js";
import type { ServiceFilter, ServiceInfo, WatchEvent } from "./types.js";
import { matchesFilter, Watcher } from "./watch.js";

export { Instance, type InstanceCall } from "./instance.js";

/**
 * Names to instances, plus the watchers and waiters that follow registrations. Names are also
 * kept sorted, so that listing costs in proportion to what it returns: re-sorting 50 000 names
 * per `list({ prefix })` blocked the loop 18–44 ms even when 500 matched (issue 19).
 */
export class Registry {
  readonly #services = new Map<string, ServiceEntry>();
  readonly #names = new SortedNames();
  readonly #watchers = new Set<Watcher>();
  readonly #waiters = new Map<string, Set<() => void>>();

  pick(
    name: string,
    labels: Labels | undefined,
    id: string | undefined,
    tried: Set<Instance> | undefined,
  ): Instance | undefined {
    return this.#services.get(name)?.pick(labels, id, tried);
  }

  add(instance: Instance): void {
    const name = instance.info.name;
    let entry = this.#services.get(name);
    if (entry === undefined) {
      entry = new ServiceEntry();
      this.#services.set(name, entry);
      this.#names.add(name);
    }
    entry.add(instance);
    this.#emit({ type: "added", service: instance.info });
    const waiters = this.#waiters.get(name);
    if (waiters !== undefined) {
      this.#waiters.delete(name);
      for (const wake of waiters) wake();
    }
  }

  /** Removes an instance; returns false if it was not registered. */
  remove(instance: Instance): boolean {
    const name = instance.info.name;
    const entry = this.#services.get(name);
    if (entry === undefined || !entry.remove(instance)) return false;
    instance.active = false;
    if (entry.size === 0) {
      this.#services.delete(name);
      this.#names.delete(name);
    }
    this.#emit({ type: "removed", service: instance.info });
    return true;
  }

  /** The live instances matching `filter`: by name, then in registration order. */
  instances(filter: ServiceFilter = {}): Instance[] {
    const found: Instance[] = [];
    const names = filter.name !== undefined ? [filter.name] : this.#names.withPrefix(filter.prefix);
    for (const name of names) {
      const entry = this.#services.get(name);
      if (entry === undefined) continue;
      for (const instance of entry.matching(filter.labels)) {
        if (matchesFilter(instance.info, filter)) found.push(instance);
      }
    }
    return found;
  }

  /** The registrations matching `filter`: by name, then in registration order. */
  list(filter: ServiceFilter = {}): ServiceInfo[] {
    return this.instances(filter).map((instance) => instance.info);
  }

  /** A new watcher; with `existing`, it starts with the matching registrations. */
  watch(
    filter: ServiceFilter,
    existing: boolean,
    signal?: AbortSignal,
    onClose?: (watcher: Watcher) => void,
  ): Watcher {
    const watcher = new Watcher(
      filter,
      (done) => {
        this.#watchers.delete(done);
        onClose?.(done);
      },
      signal,
    );
    if (existing) {
      for (const service of this.list(filter)) watcher.push({ type: "added", service });
    }
    this.#watchers.add(watcher);
    return watcher;
  }

  /** Calls `wake` once when an instance of `name` registers; returns the cancel function. */
  waitFor(name: string, wake: () => void): () => void {
    let waiters = this.#waiters.get(name);
    if (waiters === undefined) {
      waiters = new Set();
      this.#waiters.set(name, waiters);
    }
    waiters.add(wake);
    return () => {
      waiters.delete(wake);
      if (waiters.size === 0 && this.#waiters.get(name) === waiters) this.#waiters.delete(name);
    };
  }

  closeWatchers(): void {
    for (const watcher of [...this.#watchers]) watcher.close();
  }

  #emit(event: WatchEvent): void {
    for (const watcher of this.#watchers) watcher.push(event);
  }
}
