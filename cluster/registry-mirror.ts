import type { KV, KvEntry } from "@nats-io/kv";
import type { NatsConnection, Subscription } from "@nats-io/transport-node";
import type { Hub } from "../hub/hub.js";
import type { Session } from "../hub/session.js";
import type { CallContext, Registration } from "../hub/types.js";
import type { RemoteHub } from "../hub/remote/remote-hub.js";
import type { Identity } from "../model/identity.js";
import { decodeServiceRecord, HUB_LABEL, type ServiceRecord } from "./service-record.js";
import type { MalformedCounts } from "./malformed.js";
import type { ClusterSubjects } from "./subjects.js";

/** How long an announced change may take to come through the watch before the key is read. */
const ANNOUNCED_READ_DELAY_MS = 200;

/** What the mirror needs to forward a call to the hub hosting an instance. */
export interface Forwarding {
  /** The link to `hub` carrying calls of `caller` (undefined: anonymous). */
  remote(hub: string, caller: Identity | undefined): RemoteHub | Promise<RemoteHub>;
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
  #kv: KV | undefined;
  #onError: (error: unknown) => void = () => undefined;
  #catchUpMs = 5000;
  #resyncTimer: ReturnType<typeof setInterval> | undefined;
  /** Bumped at every (re)watch: entries of an older watch are ignored. */
  #generation = 0;
  /** The revision of each key last applied. */
  readonly #revisions = new Map<string, number>();
  #announcements: Subscription | undefined;
  /** Called for every hub a record names (so liveness watches it). */
  readonly #onHub: (hub: string) => void;
  /** Called when a key of this hub's own went from the bucket. */
  readonly #onOwnKeyRemoved: (service: string) => void;
  /** Called when this hub's record was announced deleted. */
  readonly #onOwnRecordRemoved: () => void;
  /** Called after every resync has caught up with the bucket. */
  readonly #onResynced: () => void;
  readonly #malformed: MalformedCounts | undefined;
  /** hub → the calls forwarded to it and not settled yet. */
  readonly #inFlight = new Map<string, Set<Promise<unknown>>>();

  constructor(options: {
    hub: Hub;
    self: string;
    subjects: ClusterSubjects;
    forwarding: Forwarding;
    onHub: (hub: string) => void;
    /**
     * A key of this hub's own was deleted — by other hubs that judged this one dead while it was
     * frozen or cut off: it is written again if the service is still here.
     */
    onOwnKeyRemoved: (service: string) => void;
    /**
     * This hub's record was deleted by a hub that judged it dead: a judge may delete it after
     * this hub, awake again, already wrote it back (judges run apart), so each deletion counts.
     */
    onOwnRecordRemoved?: () => void;
    /**
     * A resync caught up with the bucket (every `resyncMs`, and after a reconnect): the time for
     * this hub to check its own keys there, which its watch alone may have missed being deleted.
     */
    onResynced?: () => void;
    /** Counts announcements, keys and records that are not what they should be (dropped). */
    malformed?: MalformedCounts;
  }) {
    this.#malformed = options.malformed;
    this.#session = options.hub.session({ identity: { id: options.self, via: "cluster" } });
    this.#self = options.self;
    this.#subjects = options.subjects;
    this.#forwarding = options.forwarding;
    this.#onHub = options.onHub;
    this.#onOwnKeyRemoved = options.onOwnKeyRemoved;
    this.#onOwnRecordRemoved = options.onOwnRecordRemoved ?? (() => undefined);
    this.#onResynced = options.onResynced ?? (() => undefined);
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
   * `catchUpMs`, if the bucket is slow to deliver it). Every `resyncMs` (and on `resync()`) the
   * watch starts over from the bucket's current content, dropping stand-ins whose keys are gone:
   * a watch can silently stall when its NATS node dies (nats.node#570).
   */
  async follow(
    kv: KV,
    nc: NatsConnection,
    onError: (error: unknown) => void,
    resyncMs = 30_000,
    catchUpMs = 5000,
  ): Promise<void> {
    this.#kv = kv;
    // Changes announced on plain NATS are read at once, whatever state the watch is in.
    this.#announcements = nc.subscribe(this.#subjects.registryChanges, {
      callback: (error, message) => {
        if (error !== null || this.#stopped) return;
        const [key = "", revision] = message.string().split(" ");
        const parsed = this.#subjects.parseServiceKey(key);
        const recordOf = parsed === undefined ? this.#subjects.parseHubKey(key) : undefined;
        if (recordOf !== undefined && revision === undefined) {
          // A record deleted: only this hub's own matters (others' come and go with their keys).
          if (recordOf === this.#self) this.#onOwnRecordRemoved();
          return;
        }
        if (parsed === undefined || (revision !== undefined && !/^\d+$/.test(revision))) {
          this.#malformed?.count("registry");
          return;
        }
        // A key of this hub's own announced without a revision was deleted — by this hub, or by
        // others that judged it dead: told at once, even when this hub's watch lags or stalled.
        if (parsed.hub === this.#self) {
          if (revision === undefined) this.#onOwnKeyRemoved(parsed.service);
          return;
        }
        // Usually the watch brings the change at about the same time: read the key only if it
        // has not after a moment, so that a healthy watch costs no read per change.
        const known = (): boolean =>
          revision !== undefined && (this.#revisions.get(key) ?? 0) >= Number(revision);
        if (known()) return;
        setTimeout(() => {
          if (known() || this.#stopped) return;
          kv.get(key).then((entry) => entry !== null && this.#apply(entry), onError);
        }, ANNOUNCED_READ_DELAY_MS).unref();
      },
    });
    this.#onError = onError;
    this.#catchUpMs = catchUpMs;
    this.#resyncTimer = setInterval(() => void this.resync(), resyncMs);
    this.#resyncTimer.unref();
    await this.resync();
  }

  /** Reads the bucket afresh (after a NATS reconnect): resolves once caught up. */
  async resync(): Promise<void> {
    const kv = this.#kv;
    if (kv === undefined || this.#stopped) return;
    const generation = ++this.#generation;
    let watch: Awaited<ReturnType<KV["watch"]>>;
    let empty: boolean;
    try {
      // A watch of nothing says nothing: whether there is anything to wait for is asked first.
      empty = true;
      for await (const key of await kv.keys("svc.>")) if (key !== "") empty = false;
      watch = await kv.watch({ key: "svc.>" });
    } catch (error) {
      this.#onError(error);
      return;
    }
    if (generation !== this.#generation || this.#stopped) {
      watch.stop();
      return;
    }
    this.#watcher?.stop();
    this.#watcher = watch;
    const seen = new Set<string>();
    let caughtUp = false;
    let markCaughtUp: () => void = () => undefined;
    const initial = new Promise<void>((resolve) => (markCaughtUp = resolve));
    const catchUp = (): void => {
      if (caughtUp) return;
      caughtUp = true;
      // What the bucket no longer holds goes, now that all it holds has come.
      for (const [hub, services] of [...this.#standIns])
        for (const service of [...services.keys()])
          if (!seen.has(`${hub}\u0000${service}`)) this.#sync(hub, service, undefined);
      markCaughtUp();
    };
    if (empty) catchUp();
    const late = setTimeout(markCaughtUp, this.#catchUpMs);
    this.#watching = (async () => {
      for await (const entry of watch) {
        if (generation !== this.#generation) break;
        const key = this.#apply(entry);
        if (!caughtUp && key !== undefined) seen.add(`${key.hub}\u0000${key.service}`);
        // `delta`: how many more the bucket held when this one came; 0 for the last of them.
        if (entry.delta === 0 || entry.isUpdate) catchUp();
      }
    })()
      .catch(this.#onError)
      .finally(markCaughtUp);
    await initial;
    clearTimeout(late);
    if (generation === this.#generation && !this.#stopped) this.#onResynced();
  }

  /**
   * Drops every stand-in of `hub` (it is gone): calls on them fail over or fail. The revisions
   * applied for its keys are forgotten too: should it come back (it was only frozen), what the
   * bucket holds for it is taken again, whatever its revision — not skipped as already seen.
   */
  forgetHub(hub: string): void {
    for (const key of [...this.#revisions.keys()])
      if (this.#subjects.parseServiceKey(key)?.hub === hub) this.#revisions.delete(key);
    const services = this.#standIns.get(hub);
    if (services === undefined) return;
    this.#standIns.delete(hub);
    for (const instances of services.values())
      for (const registration of instances.values()) this.#retire(hub, registration);
  }

  /**
   * Reads `hub`'s keys from the bucket and mirrors them (it was declared dead and is heard from
   * again): its stand-ins come back without waiting for the watch or the next resync.
   */
  async refreshHub(hub: string): Promise<void> {
    const kv = this.#kv;
    if (kv === undefined || this.#stopped) return;
    const keys: string[] = [];
    for await (const key of await kv.keys(`svc.*.${this.#subjects.hubToken(hub)}`)) keys.push(key);
    for (const key of keys) {
      const entry = await kv.get(key);
      if (entry !== null) this.#apply(entry);
    }
  }

  /**
   * Removes a stand-in for `hub` once the calls forwarded there so far have settled. Removed at
   * once, the hub would move those calls to another instance ("failover") while they may have
   * run at `hub` already — a call whose link reset ran twice. Waiting, they fail typed
   * (`ELINK_RESET`: it may have run) or answer; only calls that never left this hub move.
   */
  #retire(hub: string, registration: Registration): void {
    const pending = this.#inFlight.get(hub);
    if (pending === undefined || pending.size === 0) {
      void registration.unregister();
      return;
    }
    void Promise.allSettled([...pending]).then(() => registration.unregister());
  }

  async close(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#resyncTimer);
    this.#announcements?.unsubscribe();
    this.#watcher?.stop();
    await this.#watching;
    for (const hub of [...this.#standIns.keys()]) this.forgetHub(hub);
    await this.#session.close();
  }

  /** Applies one entry of the bucket; returns the (hub, service) it was about. */
  #apply(entry: KvEntry): { hub: string; service: string } | undefined {
    if (this.#stopped) return undefined;
    const key = this.#subjects.parseServiceKey(entry.key);
    if (key === undefined) {
      this.#malformed?.count("registry");
      return undefined;
    }
    // The same change may come twice (announced and watched), and an older one late.
    if ((this.#revisions.get(entry.key) ?? 0) >= entry.revision) return key;
    this.#revisions.set(entry.key, entry.revision);
    if (key.hub === this.#self) {
      if (entry.operation !== "PUT") this.#onOwnKeyRemoved(key.service);
      return key;
    }
    const record = entry.operation === "PUT" ? decodeServiceRecord(entry.value) : undefined;
    if (
      entry.operation === "PUT" &&
      (record === undefined || record.hub !== key.hub || record.name !== key.service)
    ) {
      // Not a record of this key: dropped, and what it replaced stays.
      this.#malformed?.count("registry");
      return key;
    }
    if (record !== undefined) this.#onHub(key.hub);
    this.#sync(key.hub, key.service, record);
    return key;
  }

  /** Makes the stand-ins of (`hub`, `service`) match `record` (none when it is undefined). */
  #sync(hub: string, service: string, record: ServiceRecord | undefined): void {
    let services = this.#standIns.get(hub);
    const current = services?.get(service) ?? new Map<string, Registration>();
    const wanted = new Map((record?.instances ?? []).map((instance) => [instance.id, instance.labels]));
    for (const [id, registration] of current)
      if (!wanted.has(id)) {
        current.delete(id);
        this.#retire(hub, registration);
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

  /** Counts `call` as in flight to `hub` until it settles. */
  #track(hub: string, call: Promise<unknown>): void {
    let pending = this.#inFlight.get(hub);
    if (pending === undefined) this.#inFlight.set(hub, (pending = new Set()));
    pending.add(call);
    const settled = (): void => {
      pending.delete(call);
      if (pending.size === 0 && this.#inFlight.get(hub) === pending) this.#inFlight.delete(hub);
    };
    call.then(settled, settled);
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
      // Over the caller's own link: the other hub sees who called, not this hub.
      const remote = forwarding.remote(hub, context.caller.identity);
      const call =
        remote instanceof Promise
          ? remote.then((ready) => forward(ready, data, context))
          : forward(remote, data, context);
      this.#track(hub, call);
      return call;
    };
  }
}
