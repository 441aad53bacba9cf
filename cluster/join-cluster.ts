import { hostname } from "node:os";
import { randomBytes } from "node:crypto";
import { connect, type ConnectionOptions, type NatsConnection } from "@nats-io/transport-node";
import { Kvm, type KV } from "@nats-io/kv";
import { VERSION } from "../base/version.js";
import type { Hub } from "../hub/hub.js";
import { InvalidArgumentError } from "../model/errors.js";
import { ClusterError } from "./errors.js";
import { HubLinks } from "./hub-links.js";
import { Liveness, type LivenessTiming } from "./liveness.js";
import { MalformedCounts, type MalformedSource } from "./malformed.js";
import { natsSecurityOptions, type ClusterCredentials, type ClusterTls } from "./nats-security.js";
import { NatsFace } from "./nats-face.js";
import { PubSubRelay } from "./pubsub-relay.js";
import { RegistryMirror } from "./registry-mirror.js";
import { RegistryPublisher } from "./registry-publisher.js";
import { ClusterSubjects } from "./subjects.js";

/** Options of {@link joinCluster}. */
export interface JoinClusterOptions extends LivenessTiming {
  /** The NATS servers (`nats://host:4222`, or several: any of them will do). */
  servers: string | string[];
  /** The cluster's name: hubs of one name share a registry (default `"beamhub"`). */
  name?: string;
  /** This hub's name in the cluster, unique in it (default: the host name). */
  hub?: string;
  /** TLS to NATS (PEM files; `tls://` servers use it too, with the system's CAs by default). */
  tls?: ClusterTls;
  /** Credentials for NATS: `{user, password}`, or `{file}` — a `.creds` or nkey seed file. */
  credentials?: ClusterCredentials;
  /** More NATS connection options (they win over `tls` and `credentials`). */
  nats?: Omit<ConnectionOptions, "servers" | "name">;
  /**
   * Replicas of the registry's KV bucket (default 3 when the NATS server is part of a NATS
   * cluster, else 1). Only used when this hub creates the bucket.
   */
  replicas?: number;
  /**
   * What a file descriptor in a call to another hub becomes: `"convert"` (default) — a socket or
   * pipe a byte stream, a file its content, as over HTTPS — or `"refuse"`: the call fails
   * (`EFD_UNAVAILABLE`). Calls carrying fds go to an instance on this host when there is one.
   */
  fds?: "convert" | "refuse";
  /** Bound on opening a link to another hub, in ms (default 5000). */
  openTimeoutMs?: number;
  /** Bytes a link may have in flight each way (default 4 MiB). */
  linkWindow?: number;
  /** Where errors of the background work go (registry writes, the bucket's watch). */
  onError?: (error: unknown) => void;
  /**
   * What else joins with the hub, e.g. `clusterTasks(broker)` (Samply tasks shared by the
   * cluster's hubs): each starts, in order, once the hub has joined, and stops first when it
   * leaves. One that fails to start makes the join fail.
   */
  extensions?: readonly ClusterExtension[];
}

/**
 * A feature that works across the cluster on the hub's NATS connection: started with the joined
 * {@link Cluster}, it returns how to stop it.
 */
export type ClusterExtension = (cluster: Cluster) => Promise<{ close(): Promise<void> }>;

/** A hub's membership in a cluster. */
export interface Cluster {
  /** The cluster's name. */
  readonly name: string;
  /** This hub's name in it. */
  readonly hub: string;
  /** The id of this run of the hub (a new one at every start). */
  readonly epoch: string;
  /** The NATS connection (for what beamhub does not cover). */
  readonly nats: NatsConnection;
  /** The other hubs this one knows alive. */
  hubs(): string[];
  /**
   * A JetStream KV bucket on the cluster's NATS, created when missing (history 1, as many replicas
   * as the registry's): for what keeps state across the hubs, e.g. `clusterTasks`.
   */
  bucket(name: string): Promise<KV>;
  /** Resolves once this hub's registrations so far are in the cluster's registry. */
  settled(): Promise<void>;
  /**
   * How many messages this hub dropped as malformed, by subject kind: not what the subject
   * carries (another program, or a hub of another version, on the cluster's subjects).
   */
  malformed(): Record<MalformedSource, number>;
  /**
   * Leaves the cluster: this hub's services are removed from the registry, links close (calls on
   * them fail), and the NATS connection is drained.
   */
  leave(): Promise<void>;
}

/** nats.js defaults give up after about 20 s of reconnecting; a hub must not. */
const NATS_DEFAULTS: Partial<ConnectionOptions> = {
  maxReconnectAttempts: -1,
  reconnectTimeWait: 500,
  pingInterval: 5000,
  maxPingOut: 2,
  timeout: 5000,
  noAsyncTraces: true,
};

/**
 * Joins `hub` to a cluster of hubs on NATS (PROTOCOL.md, "Cluster"): afterwards every service of
 * every hub of the cluster is callable here by its name — with labels, reply channels, byte
 * streams, deadlines and cancellation as in one hub — and this hub's services are callable from
 * the others. Calls between sessions of one hub never touch NATS, and a call goes to an instance
 * on this hub whenever one matches; another hub's instances carry the label `beamhub/hub`.
 *
 * Plain NATS clients can call the services too (a request on `beam.<name>.svc.<service>`), and
 * `nats micro ls` lists the hubs.
 */
export async function joinCluster(hub: Hub, options: JoinClusterOptions): Promise<Cluster> {
  const name = options.name ?? "beamhub";
  const self = options.hub ?? hostname();
  if (name.length === 0 || name.length > 64)
    throw new InvalidArgumentError("a cluster name has 1-64 characters");
  if (self.length === 0 || self.length > 128)
    throw new InvalidArgumentError("a hub name has 1-128 characters");
  const onError = options.onError ?? (() => undefined);
  const epoch = randomBytes(8).toString("hex");
  const subjects = new ClusterSubjects(name);

  const servers = typeof options.servers === "string" ? [options.servers] : options.servers;
  const security = await natsSecurityOptions(servers, options.tls, options.credentials);
  let nc: NatsConnection;
  try {
    nc = await connect({
      ...NATS_DEFAULTS,
      ...security,
      ...options.nats,
      servers: options.servers,
      name: `beamhub ${name}/${self}`,
    });
  } catch (error) {
    throw new ClusterError(
      `cannot connect to NATS at ${String(options.servers)}: ${(error as Error).message}`,
      error,
    );
  }
  // What is up so far, taken down again (last first) when the join fails half-way.
  const undo: (() => unknown)[] = [];
  try {
    // Without JetStream there is no registry: said at once, not after the retries below.
    if (nc.info?.jetstream !== true)
      throw new ClusterError(
        `JetStream is not enabled on the NATS server at ${nc.getServer()}: a cluster keeps its registry there`,
      );
    const replicas = options.replicas ?? (nc.info?.cluster ? 3 : 1);
    const kv = await openBucket(nc, subjects.bucket, replicas);
    await removeKeysOf(kv, subjects, self);

    let heard = (_peer: string): void => undefined;
    const malformed = new MalformedCounts();
    const links = new HubLinks({
      nc,
      hub,
      subjects,
      self,
      epoch,
      openTimeoutMs: options.openTimeoutMs ?? 5000,
      limits: { window: options.linkWindow, withoutFds: options.fds ?? "convert" },
      // A peer may open a link before liveness exists (a few lines below): not heard yet then.
      heard: (peer) => heard(peer),
      malformed,
    });
    undo.push(() => links.close());
    const mirror = new RegistryMirror({
      hub,
      self,
      subjects,
      forwarding: links,
      onHub: (peer) => liveness.know(peer),
      // Deleted by others that judged this hub dead (they delete its record too).
      // (A key this hub deleted itself, of a service it no longer hosts, costs nothing more.)
      onOwnKeyRemoved: (service) => {
        if (publisher.republish(service)) void publisher.verifyRecord();
      },
      onOwnRecordRemoved: () => void publisher.verifyRecord(),
      onResynced: () => void publisher.verify(),
      malformed,
    });
    undo.push(() => mirror.close());
    // Deletions are announced like every registry change: the hub judged dead learns of them
    // at once if it is alive after all, even when its watch of the bucket lags or stalled.
    const announce = (key: string): void => {
      try {
        nc.publish(subjects.registryChanges, key);
      } catch {
        // Disconnected: the hub's own checks find its keys gone.
      }
    };
    const forget = (peer: string, epochOfDead: string | undefined, why: string): void => {
      links.resetPeer(peer, `hub "${peer}" is gone: ${why}`);
      mirror.forgetHub(peer);
      void removeKeysOf(kv, subjects, peer, epochOfDead, announce).catch(onError);
    };
    const liveness = new Liveness(
      nc,
      subjects,
      { name: self, epoch },
      options,
      {
        linkedPeers: () => links.peers,
        onDead: forget,
        onRestarted: (peer) => links.resetPeer(peer, `hub "${peer}" restarted`),
        // Declared dead, yet alive: its keys (rewritten by it, or never deleted) are read again.
        onBack: (peer) => void mirror.refreshHub(peer).catch(onError),
        // Frozen long enough for the others to declare this hub dead: its keys are checked.
        onStalled: () => publisher.verifyAfterStall(options.deadAfterMs ?? 3000),
      },
      malformed,
    );
    undo.push(() => liveness.close());
    heard = (peer) => liveness.heard(peer);
    const face = new NatsFace({ nc, hub, subjects, self, version: VERSION, callTimeoutMs: 30_000 });
    undo.push(() => face.close());
    const publisher = new RegistryPublisher({
      hub,
      nc,
      kv,
      subjects,
      self,
      epoch,
      isStandIn: (sessionId) => sessionId === mirror.sessionId,
      record: { host: hostname(), started: Date.now() },
      onHosted: (service, hosted) => face.hosted(service, hosted),
      onError,
    });
    undo.push(() => publisher.close(false));
    await publisher.writeRecord();
    await mirror.follow(kv, nc, onError);
    const relay = new PubSubRelay({ hub, nc, subjects, self, onError, malformed });
    undo.push(() => relay.close());
    void (async () => {
      for await (const status of nc.status()) {
        if (status.type === "disconnect") liveness.suspend();
        else if (status.type === "reconnect") {
          liveness.resume();
          publisher.republishAll();
          void publisher.verifyRecord();
          void mirror.resync();
        }
      }
    })().catch(onError);

    let left: Promise<void> | undefined;
    const started: { close(): Promise<void> }[] = [];
    const cluster: Cluster = {
      name,
      hub: self,
      epoch,
      nats: nc,
      hubs: () => liveness.alive,
      bucket: (bucketName) => openBucket(nc, bucketName, replicas),
      settled: () => publisher.settled(),
      malformed: () => malformed.snapshot(),
      leave: () =>
        (left ??= (async () => {
          for (const extension of started.reverse()) await extension.close().catch(onError);
          liveness.close();
          face.close();
          relay.close();
          await publisher.close(true).catch(onError);
          await kv.delete(subjects.hubKey(self)).catch(onError);
          links.close();
          await mirror.close();
          await nc.drain().catch(() => nc.close());
        })()),
    };
    for (const extension of options.extensions ?? []) {
      try {
        started.push(await extension(cluster));
      } catch (error) {
        await cluster.leave();
        throw error;
      }
    }
    return cluster;
  } catch (error) {
    for (const step of undo.reverse())
      await Promise.resolve()
        .then(step)
        .catch(() => undefined);
    await nc.close();
    throw error instanceof ClusterError
      ? error
      : new ClusterError(`cannot join cluster "${name}": ${(error as Error).message}`, error);
  }
}

/**
 * The registry's bucket, created when missing. Right after a NATS cluster starts, JetStream may
 * still be electing its leaders (errors 10008, 503): retried for up to 15 s.
 */
async function openBucket(nc: NatsConnection, bucket: string, replicas: number): Promise<KV> {
  const kvm = new Kvm(nc);
  const until = Date.now() + 15_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await kvm.create(bucket, { history: 1, replicas });
    } catch (error) {
      if (Date.now() > until)
        throw new ClusterError(
          `the cluster's JetStream KV bucket "${bucket}" is unavailable: ${(error as Error).message}`,
          error,
        );
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 100 * 2 ** attempt)));
    }
  }
}

/**
 * Deletes `hub`'s keys (its services, its record): at a start (what a crashed run left), or for
 * a dead hub — only if the record still names the run that died, not a restarted one.
 */
async function removeKeysOf(
  kv: KV,
  subjects: ClusterSubjects,
  hub: string,
  epoch?: string,
  announce: (key: string) => void = () => undefined,
): Promise<void> {
  if (epoch !== undefined) {
    const record = await kv.get(subjects.hubKey(hub));
    if (record !== null && record.operation === "PUT") {
      const { epoch: current } = record.json<{ epoch?: string }>();
      if (current !== epoch) return;
    }
  }
  const keys = await kv.keys(`svc.*.${subjects.hubToken(hub)}`);
  const doomed: string[] = [];
  for await (const key of keys) doomed.push(key);
  await Promise.all(doomed.map(async (key) => (await kv.delete(key), announce(key))));
  if (epoch !== undefined) {
    await kv.delete(subjects.hubKey(hub));
    announce(subjects.hubKey(hub));
  }
}
