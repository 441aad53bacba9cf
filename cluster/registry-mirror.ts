import type { KV, KvWatchEntry } from "@nats-io/kv";
import type { Hub } from "../hub/hub.js";
import type { Session } from "../hub/session.js";
import type { CallContext, Registration } from "../hub/types.js";
import type { RemoteHub } from "../hub/remote/remote-hub.js";
import { decodeServiceRecord, HUB_LABEL, type ServiceRecord } from "./service-record.js";
import type { ClusterSubjects } from "./subjects.js";

/** What the mirror needs to forward a call to the hub hosting an instance. */
export interface Forwarding {
  remote(hub: string): RemoteHub | Promise<RemoteHub>;
}

/**
 * Follows the cluster's KV bucket and keeps, in this hub, a stand-in for every instance another
 * hub hosts: registered under the same name, with the same labels plus `beamhub/hub: <hub>`,
 * as a fallback (local instances serve first). A call to a stand-in travels over the link to
 * the hosting hub, addressed to that very instance, with the caller's deadline and cancellation.
 */
export class RegistryMirror {
  readonly #session: Session;
  readonly #self: string;
  readonly #subjects: ClusterSubjects;
  readonly #forwarding: Forwarding;
  /** hub → service → remote instance id → its stand-in here. */
  readonly #standIns = new Map<string, Map<string, Map<string, Registration>>>();
  #watching: Promise<void> | undefined;
  #stopped = false;
  #watcher: { stop(): void } | undefined;
  /** Called for every hub a record names (so liveness watches it). */
  readonly #onHub: (hub: string) => void;

  constructor(options: {
    hub: Hub;
    self: string;
    subjects: ClusterSubjects;
    forwarding: Forwarding;
    onHub: (hub: string) => void;
  }) {
    this.#session = options.hub.session({ identity: { id: options.self, via: "cluster" } });
    this.#self = options.self;
    this.#subjects = options.subjects;
    this.#forwarding = options.forwarding;
    this.#onHub = options.onHub;
  }

  /** The session holding the stand-ins (its instances are not this hub's own). */
  get sessionId(): string {
    return this.#session.id;
  }

  /** The hubs this hub holds stand-ins of. */
  get hubs(): string[] {
    return [...this.#standIns.keys()];
  }

  /**
   * Starts following the bucket; resolves once what it held at the start is mirrored (or after
   * `catchUpMs`, if the bucket is slow to deliver it).
   */
  async follow(kv: KV, onError: (error: unknown) => void, catchUpMs = 5000): Promise<void> {
    const empty = (await kv.status()).values === 0;
    const watch = await kv.watch({ key: "svc.>" });
    this.#watcher = watch;
    let caughtUp: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (caughtUp = resolve));
    if (empty) caughtUp();
    const late = setTimeout(caughtUp, catchUpMs);
    this.#watching = (async () => {
      for await (const entry of watch) {
        this.#apply(entry);
        // `delta`: how many more the bucket held when this one came; 0 for the last of them.
        if (entry.delta === 0 || entry.isUpdate) caughtUp();
      }
    })()
      .catch(onError)
      .finally(caughtUp);
    await initial;
    clearTimeout(late);
  }

  /** Drops every stand-in of `hub` (it is gone): calls on them fail over or fail. */
  forgetHub(hub: string): void {
    const services = this.#standIns.get(hub);
    if (services === undefined) return;
    this.#standIns.delete(hub);
    for (const instances of services.values())
      for (const registration of instances.values()) void registration.unregister();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    this.#watcher?.stop();
    await this.#watching;
    for (const hub of [...this.#standIns.keys()]) this.forgetHub(hub);
    await this.#session.close();
  }

  #apply(entry: KvWatchEntry): void {
    if (this.#stopped) return;
    const key = this.#subjects.parseServiceKey(entry.key);
    if (key === undefined || key.hub === this.#self) return;
    const record = entry.operation === "PUT" ? decodeServiceRecord(entry.value) : undefined;
    if (record !== undefined && (record.hub !== key.hub || record.name !== key.service)) return;
    this.#onHub(key.hub);
    this.#sync(key.hub, key.service, record);
  }

  /** Makes the stand-ins of (`hub`, `service`) match `record` (none when it is undefined). */
  #sync(hub: string, service: string, record: ServiceRecord | undefined): void {
    let services = this.#standIns.get(hub);
    const current = services?.get(service) ?? new Map<string, Registration>();
    const wanted = new Map((record?.instances ?? []).map((instance) => [instance.id, instance.labels]));
    for (const [id, registration] of current)
      if (!wanted.has(id)) {
        current.delete(id);
        void registration.unregister();
      }
    for (const [id, labels] of wanted) {
      if (current.has(id)) continue;
      try {
        const registration = this.#session.registerNow(service, this.#forwarder(hub, service, id), {
          labels: { ...labels, [HUB_LABEL]: hub },
          fallback: true,
        });
        current.set(id, registration);
      } catch {
        // A record this hub's rules or name checks refuse: not mirrored.
      }
    }
    if (current.size > 0) {
      if (services === undefined) this.#standIns.set(hub, (services = new Map()));
      services.set(service, current);
    } else if (services !== undefined) {
      services.delete(service);
      if (services.size === 0) this.#standIns.delete(hub);
    }
  }

  #forwarder(hub: string, service: string, instance: string) {
    const forwarding = this.#forwarding;
    const forward = (remote: RemoteHub, data: unknown, context: CallContext): Promise<unknown> =>
      remote.call(service, data, {
        instance,
        cancelWith: context,
        timeout: context.deadline === undefined ? 0 : Math.max(1, context.deadline - Date.now()),
      });
    return (data: unknown, context: CallContext): Promise<unknown> => {
      const remote = forwarding.remote(hub);
      return remote instanceof Promise
        ? remote.then((ready) => forward(ready, data, context))
        : forward(remote, data, context);
    };
  }
}
