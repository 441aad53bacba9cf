import type { Instance } from "./instance.js";
import { labelsMatch, type Labels } from "./names.js";

/** Instances in registration order, with the round-robin cursor that balances calls across them. */
class Rotation {
  readonly instances: Instance[] = [];
  cursor = 0;

  /** The next instance after the cursor that matches `labels` and is not in `tried`. */
  next(labels: Labels | undefined, tried: Set<Instance> | undefined): Instance | undefined {
    const instances = this.instances;
    const count = instances.length;
    for (let step = 0; step < count; step++) {
      this.cursor = this.cursor + 1 >= count ? 0 : this.cursor + 1;
      const candidate = instances[this.cursor]!;
      if (labels !== undefined && !labelsMatch(candidate.info.labels, labels)) continue;
      if (tried !== undefined && tried.has(candidate)) continue;
      return candidate;
    }
    return undefined;
  }

  remove(instance: Instance): void {
    const index = this.instances.indexOf(instance);
    if (index >= 0) this.instances.splice(index, 1);
  }
}

/**
 * All instances of one name, indexed by instance id and by each label (`key=value` → the
 * instances carrying it), so that a call or lookup filtered by labels visits only the instances
 * of its rarest label instead of every instance of the name: with 500 instances the scan made a
 * labelled call 16× slower than one that matched them all (bench/registry.ts, issue 19).
 *
 * Balancing stays round robin: each label's list keeps its own cursor, so calls that ask for
 * the same labels rotate over the instances that carry them, and unfiltered calls rotate over
 * all. A filter with several labels walks the shortest of their lists and checks the rest.
 */
class InstanceIndex {
  readonly #all = new Rotation();
  readonly #byId = new Map<string, Instance>();
  /** label key → label value → the instances carrying that label. */
  readonly #byLabel = new Map<string, Map<string, Rotation>>();

  /** Every instance, in registration order. */
  get instances(): readonly Instance[] {
    return this.#all.instances;
  }

  get size(): number {
    return this.#all.instances.length;
  }

  add(instance: Instance): void {
    this.#all.instances.push(instance);
    this.#byId.set(instance.info.id, instance);
    const labels = instance.info.labels;
    for (const key in labels) {
      let values = this.#byLabel.get(key);
      if (values === undefined) this.#byLabel.set(key, (values = new Map()));
      let rotation = values.get(labels[key]!);
      if (rotation === undefined) values.set(labels[key]!, (rotation = new Rotation()));
      rotation.instances.push(instance);
    }
  }

  /** Removes an instance; returns false if it was not registered here. */
  remove(instance: Instance): boolean {
    if (this.#byId.get(instance.info.id) !== instance) return false;
    this.#byId.delete(instance.info.id);
    this.#all.remove(instance);
    const labels = instance.info.labels;
    for (const key in labels) {
      const values = this.#byLabel.get(key)!;
      const rotation = values.get(labels[key]!)!;
      rotation.remove(instance);
      if (rotation.instances.length > 0) continue;
      values.delete(labels[key]!);
      if (values.size === 0) this.#byLabel.delete(key);
    }
    return true;
  }

  /** The next instance matching the constraints, round robin; skips those in `tried`. */
  pick(
    labels: Labels | undefined,
    id: string | undefined,
    tried: Set<Instance> | undefined,
  ): Instance | undefined {
    if (id !== undefined) {
      const instance = this.#byId.get(id);
      if (instance === undefined || !labelsMatch(instance.info.labels, labels)) return undefined;
      return tried?.has(instance) ? undefined : instance;
    }
    const rotation = labels === undefined ? this.#all : this.#narrowest(labels);
    return rotation?.next(labels, tried);
  }

  /** The instances matching `labels`, in registration order (not to be changed). */
  matching(labels: Labels | undefined): readonly Instance[] {
    if (labels === undefined) return this.#all.instances;
    const rotation = this.#narrowest(labels);
    if (rotation === undefined) return [];
    return rotation.instances.filter((instance) => labelsMatch(instance.info.labels, labels));
  }

  /**
   * The shortest list among those of `labels`' entries (every match is in each of them), `#all`
   * for an empty filter, or undefined when some label is carried by no instance at all.
   */
  #narrowest(labels: Labels): Rotation | undefined {
    let narrowest: Rotation | undefined;
    for (const key in labels) {
      const rotation = this.#byLabel.get(key)?.get(labels[key]!);
      if (rotation === undefined) return undefined;
      if (narrowest === undefined || rotation.instances.length < narrowest.instances.length)
        narrowest = rotation;
    }
    return narrowest ?? this.#all;
  }
}

/**
 * All instances of one name. Instances registered as fallbacks (a cluster's stand-ins for
 * instances on other hosts) serve a call only when no other instance matches it: same host
 * first, so a call leaves the host only when it must.
 */
export class ServiceEntry {
  readonly #near = new InstanceIndex();
  readonly #far = new InstanceIndex();
  /** Every instance, in registration order. */
  readonly #all: Instance[] = [];

  get instances(): readonly Instance[] {
    return this.#all;
  }

  get size(): number {
    return this.#all.length;
  }

  add(instance: Instance): void {
    this.#all.push(instance);
    (instance.fallback ? this.#far : this.#near).add(instance);
  }

  /** Removes an instance; returns false if it was not registered here. */
  remove(instance: Instance): boolean {
    if (!(instance.fallback ? this.#far : this.#near).remove(instance)) return false;
    this.#all.splice(this.#all.indexOf(instance), 1);
    return true;
  }

  /** The next instance matching the constraints, round robin, nearest first; skips `tried`. */
  pick(
    labels: Labels | undefined,
    id: string | undefined,
    tried: Set<Instance> | undefined,
  ): Instance | undefined {
    const near = this.#near.size === 0 ? undefined : this.#near.pick(labels, id, tried);
    return near ?? (this.#far.size === 0 ? undefined : this.#far.pick(labels, id, tried));
  }

  /** The instances matching `labels`, in registration order (not to be changed). */
  matching(labels: Labels | undefined): readonly Instance[] {
    if (labels === undefined) return this.#all;
    if (this.#far.size === 0) return this.#near.matching(labels);
    if (this.#near.size === 0) return this.#far.matching(labels);
    const matches = new Set([...this.#near.matching(labels), ...this.#far.matching(labels)]);
    return this.#all.filter((instance) => matches.has(instance));
  }
}
