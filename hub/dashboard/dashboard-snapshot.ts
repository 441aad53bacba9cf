/**
 * What the dashboard shows at one moment: the hub's figures (`stats`, `instances`, `sessions`)
 * turned into rows a page can draw without arithmetic of its own — rates and interval latencies
 * come from the difference with the previous snapshot of the same viewer, so every viewer sees
 * the rate over its own refresh interval.
 * @module
 */
import type { HubStats, InstanceInfo } from "../stats/hub-stats.js";
import { quantileOf } from "../stats/latency-histogram.js";
import type { SessionInfo } from "../stats/session-info.js";
import type { ChannelInfo } from "../../pubsub/types.js";
import { channelPanel, type ChannelReadings, type PubSubPanel } from "./dashboard-channels.js";
import { serviceInterval, type ServiceReading } from "./service-rates.js";

/** The label an instance carries to appear among the gateway's connections (`exposeTcp` sets it). */
export const GATEWAY_LABEL = "beamhub.gateway";

/** At most this many instances and sessions travel in one snapshot (the counts say how many there are). */
export const MAX_DASHBOARD_ROWS = 200;

/** One service (a name) as the dashboard lists it. */
export interface ServiceRow {
  readonly name: string;
  readonly instances: number;
  readonly inFlight: number;
  /** Totals since the hub started (instances that went included). */
  readonly calls: number;
  /** Calls that failed: the handler threw, the deadline passed, or the instance went away. */
  readonly failed: number;
  /** Calls and failures per second over the last interval (0 in the first snapshot). */
  readonly callsPerSecond: number;
  readonly failedPerSecond: number;
  /** Latency percentiles in ms of the calls timed during the last interval (absent: none timed). */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  /** Whether an instance of it is a TCP gateway exposure (label {@link GATEWAY_LABEL}). */
  readonly gateway: boolean;
}

/** One snapshot, as the page receives it (one server-sent event). */
export interface DashboardSnapshot {
  /** When it was taken, in ms since the epoch. */
  readonly at: number;
  readonly startedAt: number;
  /** The interval the rates cover, in ms (0 in the first snapshot). */
  readonly intervalMs: number;
  readonly sessionsByTransport: HubStats["sessions"];
  readonly callsInFlight: number;
  readonly notFound: number;
  readonly forbidden: number;
  readonly streams: number;
  readonly channels: number;
  readonly traffic: HubStats["traffic"];
  /** Bytes per second both ways over the last interval. */
  readonly bytesInPerSecond: number;
  readonly bytesOutPerSecond: number;
  readonly services: readonly ServiceRow[];
  /** The live instances (at most {@link MAX_DASHBOARD_ROWS}) and how many there are. */
  readonly instances: readonly InstanceInfo[];
  readonly instanceCount: number;
  /** The open sessions (at most {@link MAX_DASHBOARD_ROWS}), or null when the viewer may not see them. */
  readonly sessions: readonly SessionInfo[] | null;
  readonly sessionCount: number;
  /** The pub/sub channels the viewer may subscribe to, with their rates over the last interval. */
  readonly pubsub: PubSubPanel;
}

interface Previous {
  at: number;
  bytesIn: number;
  bytesOut: number;
  services: Map<string, ServiceReading>;
  channels: ChannelReadings;
}

/** Makes one viewer's snapshots, remembering the last one to compute rates. */
export class DashboardFeed {
  #previous: Previous | undefined;

  next(
    stats: HubStats,
    instances: readonly InstanceInfo[],
    sessions: readonly SessionInfo[] | null,
    channels: readonly ChannelInfo[] = [],
    now = Date.now(),
  ): DashboardSnapshot {
    const previous = this.#previous;
    const seconds = previous === undefined ? 0 : Math.max(now - previous.at, 1) / 1000;
    const perSecond = (value: number, before: number | undefined): number =>
      seconds === 0 || before === undefined ? 0 : Math.max(0, value - before) / seconds;
    const gateways = new Set(
      instances.filter((instance) => GATEWAY_LABEL in instance.labels).map((instance) => instance.name),
    );
    const remembered: Previous["services"] = new Map();
    const services = stats.services.map((service): ServiceRow => {
      const interval = serviceInterval(service, previous?.services.get(service.name), seconds);
      remembered.set(service.name, interval.reading);
      const p50Ms = quantileOf(interval.latency, 0.5);
      const p99Ms = quantileOf(interval.latency, 0.99);
      return {
        name: service.name,
        instances: service.instances,
        inFlight: service.inFlight,
        calls: service.calls,
        failed: interval.reading.failed,
        callsPerSecond: interval.callsPerSecond,
        failedPerSecond: interval.failedPerSecond,
        ...(p50Ms === undefined ? {} : { p50Ms, p99Ms }),
        gateway: gateways.has(service.name),
      };
    });
    const pubsub = channelPanel(channels, previous?.channels, seconds);
    this.#previous = {
      at: now,
      bytesIn: stats.traffic.bytesIn,
      bytesOut: stats.traffic.bytesOut,
      services: remembered,
      channels: pubsub.readings,
    };
    return {
      at: now,
      startedAt: stats.startedAt,
      intervalMs: previous === undefined ? 0 : now - previous.at,
      sessionsByTransport: stats.sessions,
      callsInFlight: stats.callsInFlight,
      notFound: stats.notFound,
      forbidden: stats.forbidden,
      streams: stats.streams,
      channels: stats.channels,
      traffic: stats.traffic,
      bytesInPerSecond: perSecond(stats.traffic.bytesIn, previous?.bytesIn),
      bytesOutPerSecond: perSecond(stats.traffic.bytesOut, previous?.bytesOut),
      services,
      instances: instances.slice(0, MAX_DASHBOARD_ROWS),
      instanceCount: instances.length,
      sessions: sessions === null ? null : sessions.slice(0, MAX_DASHBOARD_ROWS),
      sessionCount: sessions === null ? 0 : sessions.length,
      pubsub: pubsub.panel,
    };
  }
}
