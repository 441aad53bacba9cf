import type { KV } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Hub } from "../hub/hub.js";
import type { Labels } from "../hub/names.js";
import type { Watch } from "../hub/types.js";
import type { ServiceRecord } from "./service-record.js";
import type { ClusterSubjects } from "./subjects.js";

/**
 * Writes this hub's own instances (not its stand-ins for other hubs') to the cluster's KV
 * bucket: one key per service, rewritten once per turn however many instances came or went,
 * writes to one key in order.
 */
export class RegistryPublisher {
  readonly #kv: KV;
  readonly #nc: NatsConnection;
  readonly #subjects: ClusterSubjects;
  readonly #self: string;
  readonly #epoch: string;
  /** service → instance id → labels, of this hub's own instances. */
  readonly #services = new Map<string, Map<string, Labels>>();
  readonly #dirty = new Set<string>();
  readonly #writes = new Map<string, Promise<void>>();
  readonly #watch: Watch;
  readonly #following: Promise<void>;
  #flushing: ReturnType<typeof setImmediate> | undefined;
  #closing = false;
  /** Called with every service this hub starts or stops hosting. */
  readonly #onHosted: (service: string, hosted: boolean) => void;
  readonly #onError: (error: unknown) => void;

  constructor(options: {
    hub: Hub;
    nc: NatsConnection;
    kv: KV;
    subjects: ClusterSubjects;
    self: string;
    epoch: string;
    /** The session whose instances are stand-ins (not published). */
    isStandIn: (sessionId: string) => boolean;
    onHosted: (service: string, hosted: boolean) => void;
    onError: (error: unknown) => void;
  }) {
    this.#kv = options.kv;
    this.#nc = options.nc;
    this.#subjects = options.subjects;
    this.#self = options.self;
    this.#epoch = options.epoch;
    this.#onHosted = options.onHosted;
    this.#onError = options.onError;
    this.#watch = options.hub.watch({ existing: true });
    this.#following = this.#follow(options.isStandIn).catch(options.onError);
  }

  async #follow(isStandIn: (sessionId: string) => boolean): Promise<void> {
    for await (const event of this.#watch) {
      const { service } = event;
      if (isStandIn(service.sessionId)) continue;
      let instances = this.#services.get(service.name);
      if (event.type === "added") {
        if (instances === undefined) {
          this.#services.set(service.name, (instances = new Map()));
          this.#onHosted(service.name, true);
        }
        instances.set(service.id, service.labels);
      } else if (instances?.delete(service.id) === true && instances.size === 0) {
        this.#services.delete(service.name);
        this.#onHosted(service.name, false);
      }
      this.#markDirty(service.name);
    }
  }

  /** Writes every key of this hub again (after a NATS reconnect: a write may have been lost). */
  republishAll(): void {
    for (const service of this.#services.keys()) this.republish(service);
  }

  /** Writes `service`'s key again if this hub hosts it (someone deleted it). */
  republish(service: string): void {
    if (this.#services.has(service) && !this.#closing) this.#markDirty(service);
  }

  /** Resolves once every change so far is in the bucket. */
  async settled(): Promise<void> {
    // Registrations made just before reach the watch loop a few turns later.
    await new Promise((resolve) => setImmediate(resolve));
    if (this.#flushing !== undefined) {
      clearImmediate(this.#flushing);
      this.#flush();
    }
    await Promise.all([...this.#writes.values()]);
  }

  /** Stops following; removes this hub's keys from the bucket (a clean leave). */
  async close(removeKeys: boolean): Promise<void> {
    this.#closing = true;
    this.#watch.close();
    await this.#following;
    await this.settled();
    if (removeKeys)
      await Promise.allSettled(
        [...this.#services.keys()].map((name) =>
          this.#kv.delete(this.#subjects.serviceKey(name, this.#self)),
        ),
      );
  }

  /**
   * Tells the other hubs that `key` changed, on plain NATS: a bucket watch whose consumer sat on
   * a NATS node that died stalls until its heartbeats are missed (10 s and more), while a plain
   * subscription moves with its client at once. Losing this is harmless: the watch catches up.
   */
  #announce(key: string, revision?: number): void {
    try {
      this.#nc.publish(this.#subjects.registryChanges, revision === undefined ? key : `${key} ${revision}`);
    } catch {
      // Disconnected: the watch brings the change.
    }
  }

  #markDirty(name: string): void {
    this.#dirty.add(name);
    this.#flushing ??= setImmediate(() => this.#flush());
  }

  #flush(): void {
    this.#flushing = undefined;
    for (const name of this.#dirty) {
      const key = this.#subjects.serviceKey(name, this.#self);
      const instances = this.#services.get(name);
      const record: ServiceRecord | undefined =
        instances === undefined
          ? undefined
          : {
              name,
              hub: this.#self,
              epoch: this.#epoch,
              instances: [...instances].map(([id, labels]) => ({ id, labels })),
            };
      const previous = this.#writes.get(key) ?? Promise.resolve();
      const write = previous
        .then(async () => {
          if (record === undefined) {
            await this.#kv.delete(key);
            this.#announce(key);
          } else this.#announce(key, await this.#kv.put(key, JSON.stringify(record)));
        })
        .catch((error: unknown) => {
          this.#onError(error);
          // NATS or the bucket's leader is away: try again, with whatever is current then.
          setTimeout(() => this.#closing || this.#markDirty(name), 1000).unref();
        })
        .finally(() => {
          if (this.#writes.get(key) === write) this.#writes.delete(key);
        });
      this.#writes.set(key, write);
    }
    this.#dirty.clear();
  }
}
