import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection } from "@nats-io/transport-node";
import type { Hub } from "../hub/hub.js";
import type { Labels } from "../hub/names.js";
import type { Watch } from "../hub/types.js";
import { decodeServiceRecord, type ServiceRecord } from "./service-record.js";
import type { ClusterSubjects } from "./subjects.js";

/** Keys read at once when the publisher checks its keys against the bucket. */
const VERIFY_BATCH = 64;

/**
 * Writes this hub's own instances (not its stand-ins for other hubs') to the cluster's KV
 * bucket: one key per service, rewritten once per turn however many instances came or went,
 * writes to one key in order; and this hub's record (`hub.<name>`).
 *
 * Other hubs delete all of this when they judge this hub dead — wrongly, when it was only
 * frozen or overloaded. Whether its own watch of the bucket sees those deletes cannot be relied
 * on (a stalled or lagging watch never does), so {@link verify} reads the keys back and rewrites
 * what is missing or stale: after every resync of the registry, after a NATS reconnect, and
 * when this hub finds it was stalled long enough to be judged dead.
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
  /** This hub's record, as written at the join (its `started` stays). */
  readonly #record: string;
  #verifying: Promise<void> | undefined;
  #verifyAgain = false;
  #checkingRecord: Promise<void> | undefined;
  /** Later verifications after a stall (cleared on close). */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
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
    /** What this hub's record says besides its name and epoch (host, start time). */
    record: Record<string, unknown>;
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
    this.#record = JSON.stringify({ ...options.record, hub: this.#self, epoch: this.#epoch });
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

  /** Writes `service`'s key again if this hub hosts it (someone deleted it); says whether it does. */
  republish(service: string): boolean {
    if (!this.#services.has(service) || this.#closing) return false;
    this.#markDirty(service);
    return true;
  }

  /** Writes this hub's record (`hub.<name>`); rejects when the bucket refuses it. */
  async writeRecord(): Promise<void> {
    await this.#kv.put(this.#subjects.hubKey(this.#self), this.#record);
  }

  /**
   * Reads this hub's record back and writes it again if it is gone or names another run (other
   * hubs delete it with the keys of a hub they judged dead). Coalesced: one read at a time.
   */
  verifyRecord(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    return (this.#checkingRecord ??= (async () => {
      const entry = await this.#kv.get(this.#subjects.hubKey(this.#self));
      if (!this.#closing && !isRunOf(entry, this.#epoch)) await this.writeRecord();
    })()
      .catch(this.#onError)
      .finally(() => (this.#checkingRecord = undefined)));
  }

  /**
   * Checks every key of this hub (and its record) against the bucket and rewrites those that are
   * missing, written by another run, or not listing the instances this hub has. Coalesced: a
   * call while one runs makes it run once more after.
   */
  verify(): Promise<void> {
    if (this.#closing) return Promise.resolve();
    if (this.#verifying !== undefined) {
      this.#verifyAgain = true;
      return this.#verifying;
    }
    this.#verifying = this.#verifyNow()
      .catch(this.#onError)
      .finally(() => {
        this.#verifying = undefined;
        if (this.#verifyAgain) {
          this.#verifyAgain = false;
          void this.verify();
        }
      });
    return this.#verifying;
  }

  /**
   * This hub was stalled for `stalledMs` (frozen, or its event loop saturated): the others may
   * judge it dead a little later still, so its keys are verified now and twice more as their
   * judgments come in (after `deadAfterMs` and three times that).
   */
  verifyAfterStall(deadAfterMs: number): void {
    void this.verify();
    for (const delay of [deadAfterMs, 3 * deadAfterMs]) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        void this.verify();
      }, delay);
      timer.unref();
      this.#timers.add(timer);
    }
  }

  async #verifyNow(): Promise<void> {
    await this.verifyRecord();
    const names = [...this.#services.keys()];
    for (let start = 0; start < names.length && !this.#closing; start += VERIFY_BATCH)
      await Promise.all(
        names.slice(start, start + VERIFY_BATCH).map(async (name) => {
          const key = this.#subjects.serviceKey(name, this.#self);
          // A write on its way settles the key anyway.
          if (this.#dirty.has(name) || this.#writes.has(key)) return;
          const entry = await this.#kv.get(key);
          if (!this.#dirty.has(name) && !this.#writes.has(key) && !this.#lists(name, entry))
            this.republish(name);
        }),
      );
  }

  /** Whether `entry` is this run's record of `name` with the instances this hub has now. */
  #lists(name: string, entry: KvEntry | null): boolean {
    const instances = this.#services.get(name);
    if (instances === undefined) return true;
    if (entry === null || entry.operation !== "PUT") return false;
    const record = decodeServiceRecord(entry.value);
    if (record === undefined || record.epoch !== this.#epoch || record.hub !== this.#self) return false;
    return (
      record.instances.length === instances.size && record.instances.every(({ id }) => instances.has(id))
    );
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
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
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

/** Whether `entry` is a hub record of the run `epoch`. */
function isRunOf(entry: KvEntry | null, epoch: string): boolean {
  if (entry === null || entry.operation !== "PUT") return false;
  try {
    return entry.json<{ epoch?: unknown }>().epoch === epoch;
  } catch {
    return false;
  }
}
