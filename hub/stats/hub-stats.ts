/**
 * The hub's figures at one moment, put together from its sessions, its live instances and its
 * totals (`hub.stats()`, `hub.instancesInfo()`): what `/metrics`, `beamhub info`, `beamhub top`
 * and a dashboard read. Built only when asked, so the call path pays for counting alone.
 * @module
 */
import type { WireTraffic } from "../../wire/connection.js";
import type { Instance } from "../registry.js";
import type { ServiceInfo } from "../types.js";
import { CallStats, percentiles, type CallCounts } from "./call-stats.js";
import type { HubCounters } from "./hub-counters.js";
import type { Identity } from "../../model/identity.js";
import type { SessionInfo, SessionTransport } from "./session-info.js";

/** What the figures read of a session. */
interface Session {
  readonly transport: SessionTransport;
  readonly identity: Identity | undefined;
  info(): SessionInfo;
}

/** One live instance with its figures (`hub.instancesInfo()`, `beamhub info <service>`). */
export interface InstanceInfo extends ServiceInfo {
  /** When it registered, in milliseconds since the epoch. */
  readonly registeredAt: number;
  /** What carries the registering session. */
  readonly transport: SessionTransport;
  /** The registering session's identity id, if it has one. */
  readonly identity?: string;
  /** Calls it serves right now (asynchronous ones; a synchronous call is never seen in flight). */
  readonly inFlight: number;
  readonly calls: number;
  readonly ok: number;
  readonly errors: number;
  readonly timeouts: number;
  readonly cancelled: number;
  readonly gone: number;
  /** Latency percentiles in ms, estimated from the histogram; absent before the first timed call. */
  readonly p50Ms?: number;
  readonly p90Ms?: number;
  readonly p99Ms?: number;
}

/** A name's figures: its live instances' and those of instances that went, together. */
export interface ServiceStats extends CallCounts {
  readonly name: string;
  /** Instances registered now. */
  readonly instances: number;
  /** Calls its instances serve right now. */
  readonly inFlight: number;
}

/** Everything the hub counts (`hub.stats()`). */
export interface HubStats {
  /** When the hub was made, in milliseconds since the epoch. */
  readonly startedAt: number;
  /** Sessions open now, by transport. */
  readonly sessions: Readonly<Record<SessionTransport, number>>;
  /** Sessions opened since the hub started, by transport. */
  readonly sessionsOpened: Readonly<Record<SessionTransport, number>>;
  /** Calls made by sessions that wait for their reply now. */
  readonly callsInFlight: number;
  /** Calls to names nobody served. */
  readonly notFound: number;
  /** Calls and registrations the access rules refused. */
  readonly forbidden: number;
  /** Traffic of every wire session so far, open and closed. */
  readonly traffic: WireTraffic;
  /** Byte streams and channels open now, over all wire sessions. */
  readonly streams: number;
  readonly channels: number;
  /** Per name, sorted. */
  readonly services: readonly ServiceStats[];
}

/** The figures of live `instances` (their sessions found in `sessions`). */
export function describeInstances(
  instances: readonly Instance[],
  sessions: ReadonlyMap<string, Session>,
): InstanceInfo[] {
  return instances.map((instance) => {
    const session = sessions.get(instance.info.sessionId);
    const counts = instance.stats?.snapshot() ?? new CallStats().snapshot();
    const { p50Ms, p90Ms, p99Ms } = percentiles(counts.latency);
    const identity = session?.identity?.id;
    return {
      ...instance.info,
      registeredAt: instance.registeredAt,
      transport: session?.transport ?? "local",
      ...(identity === undefined ? {} : { identity }),
      inFlight: instance.pending.size,
      calls: counts.calls,
      ok: counts.ok,
      errors: counts.errors,
      timeouts: counts.timeouts,
      cancelled: counts.cancelled,
      gone: counts.gone,
      ...(p50Ms === undefined ? {} : { p50Ms, p90Ms, p99Ms }),
    };
  });
}

/** The hub's figures from its live sessions and instances and its totals. */
export function collectHubStats(
  startedAt: number,
  sessions: Iterable<Session>,
  instances: readonly Instance[],
  counters: HubCounters,
): HubStats {
  const open = { local: 0, memory: 0, unix: 0, http2: 0, websocket: 0, cluster: 0, http: 0 };
  const traffic = { ...counters.closedTraffic };
  let callsInFlight = 0;
  let streams = 0;
  let channels = 0;
  for (const session of sessions) {
    open[session.transport]++;
    const info = session.info();
    callsInFlight += info.callsInFlight;
    const live = info.traffic;
    if (live === undefined) continue;
    traffic.bytesIn += live.bytesIn;
    traffic.bytesOut += live.bytesOut;
    traffic.framesIn += live.framesIn;
    traffic.framesOut += live.framesOut;
    traffic.fdsIn += live.fdsIn;
    traffic.fdsOut += live.fdsOut;
    streams += live.streams;
    channels += live.channels;
  }
  const byName = new Map<string, { stats: CallStats; instances: number; inFlight: number }>();
  const entry = (name: string): { stats: CallStats; instances: number; inFlight: number } => {
    let found = byName.get(name);
    if (found === undefined) {
      found = { stats: new CallStats(), instances: 0, inFlight: 0 };
      byName.set(name, found);
    }
    return found;
  };
  for (const [name, counts] of counters.retired()) entry(name).stats.add(counts);
  for (const instance of instances) {
    const found = entry(instance.info.name);
    found.instances++;
    found.inFlight += instance.pending.size;
    if (instance.stats !== undefined) found.stats.add(instance.stats.snapshot());
  }
  const services = [...byName]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, found]) => ({
      name,
      instances: found.instances,
      inFlight: found.inFlight,
      ...found.stats.snapshot(),
    }));
  return {
    startedAt,
    sessions: open,
    sessionsOpened: { ...counters.opened },
    callsInFlight,
    notFound: counters.notFound,
    forbidden: counters.forbidden,
    traffic,
    streams,
    channels,
    services,
  };
}
