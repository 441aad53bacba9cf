/**
 * A service's rates between two readings of `hub.stats()`: calls and failures per second, and
 * the latencies of the calls timed in between (the difference of the two histograms). The one
 * place both the dashboard's feed and `beamhub top` compute them, so the two views agree.
 * @module
 */
import type { CallCounts } from "../stats/call-stats.js";
import type { LatencySnapshot } from "../stats/latency-histogram.js";

/** What one reading of a service leaves for the next: its totals since the hub started. */
export interface ServiceReading {
  readonly calls: number;
  /** Calls that failed: the handler threw, the deadline passed, or the instance went away. */
  readonly failed: number;
  readonly latency: LatencySnapshot;
}

/** A service over the interval between two readings. */
export interface ServiceInterval {
  /** Calls and failures per second over the interval (0 at the first reading). */
  readonly callsPerSecond: number;
  readonly failedPerSecond: number;
  /** The calls timed during the interval (at the first reading: all since the hub started). */
  readonly latency: LatencySnapshot;
  /** This reading, to hand to the next call. */
  readonly reading: ServiceReading;
}

/** The totals of `counts` that the next interval starts from. */
export function serviceReading(counts: CallCounts): ServiceReading {
  return {
    calls: counts.calls,
    failed: counts.errors + counts.timeouts + counts.gone,
    latency: counts.latency,
  };
}

/**
 * The interval of a service read as `now`, `seconds` after `before` (undefined, or 0 seconds:
 * the first reading). Figures that went down (a hub that restarted between two readings of a
 * remote one) count as none, never as negative rates.
 */
export function serviceInterval(
  now: CallCounts,
  before: ServiceReading | undefined,
  seconds: number,
): ServiceInterval {
  const reading = serviceReading(now);
  const first = before === undefined || seconds <= 0;
  const perSecond = (value: number, earlier: number | undefined): number =>
    first || earlier === undefined ? 0 : Math.max(0, value - earlier) / seconds;
  return {
    callsPerSecond: perSecond(reading.calls, before?.calls),
    failedPerSecond: perSecond(reading.failed, before?.failed),
    latency: before === undefined ? now.latency : minus(now.latency, before.latency),
    reading,
  };
}

/** The calls timed between two snapshots of one histogram. */
function minus(now: LatencySnapshot, before: LatencySnapshot): LatencySnapshot {
  return {
    buckets: now.buckets.map((count, index) => Math.max(0, count - (before.buckets[index] ?? 0))),
    sumMs: Math.max(0, now.sumMs - before.sumMs),
    count: Math.max(0, now.count - before.count),
  };
}
