/**
 * One frame of `beamhub top`: the difference between two readings of `hub.stats()` as rates per
 * service (calls/s, errors/s) and the p99 of the calls in between (from the difference of the
 * latency histograms). Pure, so it is tested without a terminal.
 * @module
 */
import { quantileOf, type HubStats, type ServiceStats } from "../index.js";
import { formatBytes, formatMs } from "./figures-format.js";
import { firstRowsTable } from "./output.js";
import { serviceInterval, serviceReading, type PubSubPanel } from "../internal.js";
import { renderTopChannels } from "./top-channels.js";

/** One service's line of a frame. */
export interface TopRow {
  readonly name: string;
  readonly instances: number;
  /** Calls per second between the two readings (0 in the first frame). */
  readonly rate: number;
  /** Failed calls per second: the handler threw, the deadline passed, or the instance went away. */
  readonly errorRate: number;
  readonly inFlight: number;
  /** p99 of the calls timed between the two readings, in ms (undefined: none). */
  readonly p99Ms: number | undefined;
  readonly calls: number;
}

/** The rows of the services in `now`, busiest first, from the readings `seconds` apart. */
export function topRows(before: HubStats | undefined, now: HubStats, seconds: number): TopRow[] {
  const previous = new Map((before?.services ?? []).map((service) => [service.name, service]));
  return now.services
    .map((service) => rowOf(previous.get(service.name), service, seconds))
    .sort((a, b) => b.rate - a.rate || b.calls - a.calls || (a.name < b.name ? -1 : 1));
}

function rowOf(before: ServiceStats | undefined, now: ServiceStats, seconds: number): TopRow {
  // The dashboard's arithmetic (hub/dashboard/service-rates.ts): both views agree.
  const interval = serviceInterval(now, before === undefined ? undefined : serviceReading(before), seconds);
  return {
    name: now.name,
    instances: now.instances,
    rate: interval.callsPerSecond,
    errorRate: interval.failedPerSecond,
    inFlight: now.inFlight,
    p99Ms: quantileOf(interval.latency, 0.99),
    calls: now.calls,
  };
}

/**
 * The text of a frame: a summary line, the services' table, and — when `pubsub` is given (the
 * hub listed its channels) — the pub/sub channels' table; `maxRows` lines of tables in all,
 * a third of them for channels when there are both.
 */
export function renderTop(
  hubText: string,
  now: HubStats,
  rows: readonly TopRow[],
  maxRows = 40,
  pubsub?: PubSubPanel,
): string {
  const sessions = Object.entries(now.sessions)
    .filter(([, count]) => count > 0)
    .map(([transport, count]) => `${transport} ${count}`)
    .join(", ");
  const head =
    `beamhub top — ${hubText} — ${new Date().toISOString().slice(11, 19)} — sessions: ${sessions || "none"} — ` +
    `traffic in ${formatBytes(now.traffic.bytesIn)}, out ${formatBytes(now.traffic.bytesOut)} — ` +
    `not found ${now.notFound}, forbidden ${now.forbidden}`;
  const channels = pubsub?.channels ?? [];
  const channelRows =
    channels.length === 0 ? 0 : Math.min(channels.length, Math.max(1, Math.floor(maxRows / 3)));
  const body =
    rows.length === 0
      ? "no services registered"
      : firstRowsTable(
          ["SERVICE", "INST", "CALLS/S", "ERR/S", "INFLIGHT", "P99", "CALLS"],
          rows,
          maxRows - channelRows,
          (row) => [
            row.name,
            String(row.instances),
            row.rate.toFixed(1),
            row.errorRate.toFixed(1),
            String(row.inFlight),
            formatMs(row.p99Ms),
            String(row.calls),
          ],
        );
  const panel =
    pubsub === undefined ? "" : `\n\n${renderTopChannels(channels, channelRows, pubsub.channelCount)}`;
  return `${head}\n\n${body}${panel}`;
}
