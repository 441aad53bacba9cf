import { describe, expect, it } from "vitest";
import { Hub, type ServiceInfo } from "../../index.js";
import { Instance, Registry } from "../../hub/registry.js";
import { Scope } from "../../model/scope.js";
import { SortedNames } from "../../hub/sorted-names.js";
import type { Labels } from "../../hub/names.js";

/**
 * Counts the work a registry does per operation, without timing: every instance's labels and
 * info are proxies that count their property reads. A scan over all instances of a name (or all
 * names) shows up as reads in proportion to the registry; an index shows up as a handful.
 */
class CountingRegistry {
  readonly registry = new Registry();
  reads = 0;
  #next = 0;

  add(name: string, labels: Labels = {}): Instance {
    this.#next += 1;
    const count = <T extends object>(target: T): T =>
      new Proxy(target, {
        get: (object, key, receiver) => {
          this.reads += 1;
          return Reflect.get(object, key, receiver) as unknown;
        },
      });
    const info: ServiceInfo = count(
      Object.freeze({
        name,
        id: `i${this.#next}`,
        labels: count(Object.freeze({ ...labels })),
        sessionId: "s1",
      }),
    );
    const instance = new Instance(info, () => info.id, new Scope());
    this.registry.add(instance);
    return instance;
  }

  /** Reads made by `operation` alone. */
  readsOf<T>(operation: () => T): { result: T; reads: number } {
    this.reads = 0;
    const result = operation();
    return { result, reads: this.reads };
  }
}

const ids = (services: readonly ServiceInfo[]): string[] => services.map((service) => service.id);

describe("registry: a name shared by many instances", () => {
  it("picks the instance a label filter asks for without looking at the others", () => {
    const counting = new CountingRegistry();
    for (let i = 0; i < 2000; i++) counting.add("shard", { shard: String(i), region: i % 2 ? "eu" : "us" });
    const { result, reads } = counting.readsOf(() =>
      counting.registry.pick("shard", { shard: "1234" }, undefined, undefined),
    );
    expect(result?.info.labels.shard).toBe("1234");
    expect(reads).toBeLessThan(20);
    const lookup = counting.readsOf(() => counting.registry.list({ name: "shard", labels: { shard: "77" } }));
    expect(lookup.result.map((service) => service.labels.shard)).toEqual(["77"]);
    expect(lookup.reads).toBeLessThan(20);
    const byId = counting.readsOf(() => counting.registry.pick("shard", undefined, "i1500", undefined));
    expect(byId.result?.info.id).toBe("i1500");
    expect(byId.reads).toBeLessThan(20);
  });

  it("balances round robin among the instances that match, and skips the tried ones", () => {
    const counting = new CountingRegistry();
    const zones = ["x", "y", "x", "x", "y"];
    const all = zones.map((zone) => counting.add("svc", { zone }));
    const pick = (labels?: Labels, tried?: Set<Instance>): string | undefined =>
      counting.registry.pick("svc", labels, undefined, tried)?.info.id;
    const inX = Array.from({ length: 6 }, () => pick({ zone: "x" }));
    expect(new Set(inX)).toEqual(new Set(["i1", "i3", "i4"]));
    // Each of the three in turn, then again in the same order.
    expect(inX.slice(3)).toEqual(inX.slice(0, 3));
    const any = Array.from({ length: 10 }, () => pick());
    expect(new Set(any).size).toBe(5);
    expect(any.slice(5)).toEqual(any.slice(0, 5));
    expect(pick({ zone: "x" }, new Set([all[0]!, all[2]!]))).toBe("i4");
    expect(pick({ zone: "x" }, new Set([all[0]!, all[2]!, all[3]!]))).toBeUndefined();
    expect(pick({ zone: "z" })).toBeUndefined();
    expect(pick({ zone: "x", other: "1" })).toBeUndefined();
    expect(counting.registry.pick("svc", { zone: "y" }, "i2", undefined)?.info.id).toBe("i2");
    expect(counting.registry.pick("svc", { zone: "x" }, "i2", undefined)).toBeUndefined();
  });

  it("keeps the label index right as instances come and go", () => {
    const counting = new CountingRegistry();
    const a = counting.add("svc", { zone: "x", tier: "1" });
    const b = counting.add("svc", { zone: "x", tier: "2" });
    const c = counting.add("svc", { zone: "y", tier: "1" });
    expect(ids(counting.registry.list({ name: "svc", labels: { zone: "x" } }))).toEqual(["i1", "i2"]);
    expect(counting.registry.remove(a)).toBe(true);
    expect(counting.registry.remove(a)).toBe(false);
    expect(ids(counting.registry.list({ name: "svc", labels: { tier: "1" } }))).toEqual(["i3"]);
    expect(counting.registry.pick("svc", { zone: "x" }, undefined, undefined)).toBe(b);
    counting.registry.remove(b);
    expect(counting.registry.pick("svc", { zone: "x" }, undefined, undefined)).toBeUndefined();
    expect(counting.registry.pick("svc", undefined, "i1", undefined)).toBeUndefined();
    counting.registry.remove(c);
    expect(counting.registry.list()).toEqual([]);
    counting.add("svc", { zone: "x" });
    expect(ids(counting.registry.list({ labels: { zone: "x" } }))).toEqual(["i4"]);
  });
});

describe("registry: list over many names", () => {
  it("lists a prefix without looking at the names outside it", () => {
    const counting = new CountingRegistry();
    for (let i = 0; i < 300; i++) for (let g = 49; g >= 0; g--) counting.add(`g${g}.svc${i}`);
    const { result, reads } = counting.readsOf(() => counting.registry.list({ prefix: "g42." }));
    expect(result).toHaveLength(300);
    expect(result.every((service) => service.name.startsWith("g42."))).toBe(true);
    // A few reads per match, not one per registered service (15 000).
    expect(reads).toBeLessThan(300 * 6);
  });

  it("lists in name order, then registration order, like a sort of everything (seeded churn)", () => {
    const counting = new CountingRegistry();
    let seed = 19;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    const live: Instance[] = [];
    const words = ["a", "ab", "abc", "b", "b.c", "b/c", "B", "_", "a:1", "ba", "a.b.c"];
    for (let step = 0; step < 1500; step++) {
      if (live.length > 0 && random(3) === 0) {
        const [gone] = live.splice(random(live.length), 1);
        expect(counting.registry.remove(gone!)).toBe(true);
      } else {
        live.push(
          counting.add(words[random(words.length)]! + words[random(words.length)]!, { n: String(random(3)) }),
        );
      }
      if (step % 150 === 0) {
        const byId = new Map(live.map((instance) => [instance.info.id, instance.info]));
        // The order of the old registry: names sorted by code unit, each in registration order.
        const expected = [...live]
          .map((instance, index) => ({ instance, index }))
          .sort((p, q) =>
            p.instance.info.name < q.instance.info.name
              ? -1
              : p.instance.info.name > q.instance.info.name
                ? 1
                : p.index - q.index,
          )
          .map(({ instance }) => instance.info.id);
        expect(ids(counting.registry.list())).toEqual(expected);
        for (const prefix of ["a", "ab", "b", "b.", "B", "_", "z", "a.b"]) {
          const matching = expected.filter((id) => byId.get(id)!.name.startsWith(prefix));
          expect(ids(counting.registry.list({ prefix }))).toEqual(matching);
          const labelled = matching.filter((id) => byId.get(id)!.labels.n === "1");
          expect(ids(counting.registry.list({ prefix, labels: { n: "1" } }))).toEqual(labelled);
        }
      }
    }
  });
});

describe("registry through the hub", () => {
  it("calls and lookups with labels reach the matching instances; watches see every change", async () => {
    const hub = new Hub();
    try {
      const watch = hub.watch({ prefix: "db.", labels: { role: "primary" }, existing: false });
      const replicas = [];
      for (let i = 0; i < 50; i++) {
        replicas.push(
          await hub.register("db.main", () => `replica ${i}`, { labels: { role: "replica", n: String(i) } }),
        );
      }
      const primary = await hub.register("db.main", () => "primary", { labels: { role: "primary" } });
      expect(await hub.call("db.main", null, { labels: { role: "primary" } })).toBe("primary");
      expect(await hub.call("db.main", null, { labels: { n: "17" } })).toBe("replica 17");
      expect((await hub.lookup("db.main", { labels: { role: "primary" } })).map((s) => s.id)).toEqual([
        primary.info.id,
      ]);
      await primary.unregister();
      await expect(hub.call("db.main", null, { labels: { role: "primary" } })).rejects.toMatchObject({
        code: "ESERVICE_NOT_FOUND",
      });
      const first = await watch.next();
      const second = await watch.next();
      expect([first.value?.type, second.value?.type]).toEqual(["added", "removed"]);
      expect(second.value?.service.id).toBe(primary.info.id);
      watch.close();
      await replicas[0]!.unregister();
      expect(await hub.list({ prefix: "db." })).toHaveLength(49);
    } finally {
      await hub.close();
    }
  });
});

describe("sorted names", () => {
  it("stays sorted through many adds and removes (chunks split and empty), and finds prefixes", () => {
    const names = new SortedNames();
    const reference = new Set<string>();
    let seed = 7;
    const random = (below: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % below;
    };
    for (let step = 0; step < 12_000; step++) {
      const name = `n${random(6000).toString(36)}`;
      if (reference.has(name)) {
        names.delete(name);
        reference.delete(name);
      } else {
        names.add(name);
        reference.add(name);
      }
    }
    names.delete("absent");
    const sorted = [...reference].sort();
    expect(names.size).toBe(sorted.length);
    expect([...names.withPrefix()]).toEqual(sorted);
    for (const prefix of ["n1", "n4z", "nz", "m", "n"]) {
      expect([...names.withPrefix(prefix)]).toEqual(sorted.filter((name) => name.startsWith(prefix)));
    }
    for (const name of sorted) names.delete(name);
    expect([...names.withPrefix()]).toEqual([]);
    expect(names.size).toBe(0);
  });
});
