/**
 * The hub's own totals: what no live session or instance holds any more. Prometheus counters
 * must never go down, so when a session closes its traffic is added here, and when an instance
 * goes its call counts are added to its name's.
 * @module
 */
import type { WireTraffic } from "../../wire/connection.js";
import { CallStats, MAX_TIMING_INTERVAL, SLOW_CALL_TIMING_INTERVAL, type CallCounts } from "./call-stats.js";
import type { SessionTransport } from "./session-info.js";

/**
 * Names whose retired counts are kept apart; past this many, the counts of further names go to
 * {@link OTHER_SERVICES}, so that peers registering ever new names cannot grow the hub's memory
 * (or a scraper's series) without bound. About 1 KiB each.
 */
export const MAX_RETIRED_NAMES = 1000;
/** The name the counts of retired services past {@link MAX_RETIRED_NAMES} are kept under. */
export const OTHER_SERVICES = "(other)";

const TRANSPORTS: readonly SessionTransport[] = [
  "local",
  "memory",
  "unix",
  "http2",
  "websocket",
  "cluster",
  "http",
];

export class HubCounters {
  /** The most calls between two timed ones of an instance (see call-stats.ts). */
  readonly #maxTimingInterval: number;

  /** `reportsSlowCalls`: the hub reports slow calls, so fast instances are timed more often. */
  constructor(reportsSlowCalls = false) {
    this.#maxTimingInterval = reportsSlowCalls ? SLOW_CALL_TIMING_INTERVAL : MAX_TIMING_INTERVAL;
  }

  /** Calls to a name nobody served (after any wait). */
  notFound = 0;
  /** Calls and registrations the access rules refused. */
  forbidden = 0;
  /** Sessions opened so far, by transport. */
  readonly opened = Object.fromEntries(TRANSPORTS.map((t) => [t, 0])) as Record<SessionTransport, number>;
  /** Sessions closed so far, by transport. */
  readonly closed = Object.fromEntries(TRANSPORTS.map((t) => [t, 0])) as Record<SessionTransport, number>;
  /** Traffic of the sessions that closed. */
  readonly closedTraffic: WireTraffic = {
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    fdsIn: 0,
    fdsOut: 0,
  };
  readonly #retired = new Map<string, CallStats>();

  /** The counts of a new instance. */
  callStats(): CallStats {
    return new CallStats(this.#maxTimingInterval);
  }

  /** A session closed: its traffic joins the totals. */
  sessionClosed(transport: SessionTransport, traffic: WireTraffic | undefined): void {
    this.closed[transport]++;
    if (traffic === undefined) return;
    const total = this.closedTraffic;
    total.bytesIn += traffic.bytesIn;
    total.bytesOut += traffic.bytesOut;
    total.framesIn += traffic.framesIn;
    total.framesOut += traffic.framesOut;
    total.fdsIn += traffic.fdsIn;
    total.fdsOut += traffic.fdsOut;
  }

  /** An instance of `name` went: its counts join the name's. */
  retire(name: string, counts: CallCounts): void {
    if (counts.calls === 0) return;
    let stats = this.#retired.get(name);
    if (stats === undefined) {
      const key = this.#retired.size < MAX_RETIRED_NAMES ? name : OTHER_SERVICES;
      stats = this.#retired.get(key) ?? new CallStats();
      this.#retired.set(key, stats);
    }
    stats.add(counts);
  }

  /** The counts of instances that went, by name. */
  retired(): Map<string, CallCounts> {
    return new Map([...this.#retired].map(([name, stats]) => [name, stats.snapshot()]));
  }
}
