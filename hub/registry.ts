import { LinkedList, type Link } from "../model/linked-list.js";
import { labelsMatch, type Labels } from "./names.js";
import type { Scope } from "../model/scope.js";
import type { CallStats } from "./stats/call-stats.js";
import type { Handler, ServiceFilter, ServiceInfo, WatchEvent } from "./types.js";
import { matchesFilter, Watcher } from "./watch.js";

/** The calls an instance is serving, so they can fail over when it goes away. */
export interface InstanceCall {
  /** The call's membership in its instance's `pending` list. */
  readonly instanceLink: Link<InstanceCall>;
  instanceGone(why: string): void;
}

/** A registered instance: its public info, its handler and the calls it is serving. */
export class Instance {
  readonly pending = new LinkedList<InstanceCall>();
  active = true;
  /** When it registered, in milliseconds since the epoch. */
  readonly registeredAt = Date.now();

  constructor(
    readonly info: ServiceInfo,
    readonly handler: Handler,
    /** The registering session's scope: attachments this instance sends or receives close with it. */
    readonly scope: Scope,
    /** Its call counts and latencies; undefined when the hub keeps none (`stats: false`). */
    readonly stats?: CallStats,
  ) {}
}

/** All instances of one name, with the round-robin cursor that balances calls across them. */
class ServiceEntry {
  readonly instances: Instance[] = [];
  cursor = 0;

  /** The next instance matching the constraints, round robin; skips those in `tried`. */
  pick(
    labels: Labels | undefined,
    id: string | undefined,
    tried: Set<Instance> | undefined,
  ): Instance | undefined {
    const instances = this.instances;
    const count = instances.length;
    for (let step = 0; step < count; step++) {
      this.cursor = this.cursor + 1 >= count ? 0 : this.cursor + 1;
      const candidate = instances[this.cursor]!;
      if (id !== undefined && candidate.info.id !== id) continue;
      if (labels !== undefined && !labelsMatch(candidate.info.labels, labels)) continue;
      if (tried !== undefined && tried.has(candidate)) continue;
      return candidate;
    }
    return undefined;
  }
}

/** Names to instances, plus the watchers and waiters that follow registrations. */
export class Registry {
  readonly #services = new Map<string, ServiceEntry>();
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
    }
    entry.instances.push(instance);
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
    const index = entry?.instances.indexOf(instance) ?? -1;
    if (entry === undefined || index < 0) return false;
    instance.active = false;
    entry.instances.splice(index, 1);
    if (entry.instances.length === 0) this.#services.delete(name);
    this.#emit({ type: "removed", service: instance.info });
    return true;
  }

  /** The live instances matching `filter`, sorted by name. */
  instances(filter: ServiceFilter = {}): Instance[] {
    const found: Instance[] = [];
    const names = filter.name !== undefined ? [filter.name] : [...this.#services.keys()].sort();
    for (const name of names) {
      for (const instance of this.#services.get(name)?.instances ?? []) {
        if (matchesFilter(instance.info, filter)) found.push(instance);
      }
    }
    return found;
  }

  list(filter: ServiceFilter = {}): ServiceInfo[] {
    const found: ServiceInfo[] = [];
    const names = filter.name !== undefined ? [filter.name] : [...this.#services.keys()].sort();
    for (const name of names) {
      for (const instance of this.#services.get(name)?.instances ?? []) {
        if (matchesFilter(instance.info, filter)) found.push(instance.info);
      }
    }
    return found;
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
