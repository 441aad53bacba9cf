/**
 * What the hub counts about the calls an instance serves. Counting is a few increments on the
 * call path; timing costs two clock reads (~80 ns each on the loaded 2-core test machine),
 * which is a lot next to an in-process call (~300 ns to a function, ~1 µs to an async one) and
 * nothing next to a call to another process (tens of µs and up). So timing adapts: a call is
 * timed one in {@link TIME_SAMPLE}, and every call once a timed call took at least
 * {@link TIME_EVERY_ABOVE_MS} (until a timed one is faster again). Slow services are measured
 * call by call; fast ones by a sample, which is what a percentile needs anyway.
 * @module
 */
import { performance } from "node:perf_hooks";
import { LatencyHistogram, quantileOf, type LatencySnapshot } from "./latency-histogram.js";

/** A fast instance's calls are timed one in this many (a power of two). */
export const TIME_SAMPLE = 32;
const SAMPLE_MASK = TIME_SAMPLE - 1;
/** An instance whose last timed call took at least this long (ms) is timed on every call. */
export const TIME_EVERY_ABOVE_MS = 0.1;

/** How a call ended, as the metrics label it. */
export type CallOutcome = "ok" | "error" | "timeout" | "cancelled" | "gone";

/** The counts of one instance (or of every instance a name ever had). */
export interface CallCounts {
  /** Calls handed to the handler (a failover counts once per instance tried). */
  readonly calls: number;
  readonly ok: number;
  /** The handler threw or rejected. */
  readonly errors: number;
  /** The caller's deadline passed first. */
  readonly timeouts: number;
  /** The caller cancelled or went away. */
  readonly cancelled: number;
  /** The instance went away during the call. */
  readonly gone: number;
  /** Latencies of the timed calls (see the module's note on sampling). */
  readonly latency: LatencySnapshot;
}

/** Live counts of one instance; `PendingCall` updates them. */
export class CallStats {
  calls = 0;
  ok = 0;
  errors = 0;
  timeouts = 0;
  cancelled = 0;
  gone = 0;
  /** Whether the last timed call was slow enough to time every call (see the module's note). */
  timeEvery = false;
  readonly latency = new LatencyHistogram();

  /** A call starts on this instance: its start time, or 0 when this call is not timed. */
  started(): number {
    const call = this.calls++;
    return this.timeEvery || (call & SAMPLE_MASK) === 0 ? performance.now() : 0;
  }

  /**
   * A call ended well: the common case, without `ended`'s switch. Returns the duration in ms,
   * or -1 when it was not timed.
   */
  succeeded(started: number): number {
    this.ok++;
    return started === 0 ? -1 : this.#timed(started);
  }

  /**
   * A call ended; `started` is what `started()` returned. Returns the call's duration in
   * milliseconds, or -1 when it was not timed.
   */
  ended(outcome: CallOutcome, started: number): number {
    switch (outcome) {
      case "ok":
        this.ok++;
        break;
      case "error":
        this.errors++;
        break;
      case "timeout":
        this.timeouts++;
        break;
      case "cancelled":
        this.cancelled++;
        break;
      case "gone":
        this.gone++;
        break;
    }
    return started === 0 ? -1 : this.#timed(started);
  }

  #timed(started: number): number {
    const ms = performance.now() - started;
    this.timeEvery = ms >= TIME_EVERY_ABOVE_MS;
    this.latency.record(ms);
    return ms;
  }

  snapshot(): CallCounts {
    return {
      calls: this.calls,
      ok: this.ok,
      errors: this.errors,
      timeouts: this.timeouts,
      cancelled: this.cancelled,
      gone: this.gone,
      latency: this.latency.snapshot(),
    };
  }

  /** Adds `counts` (an instance that went away) to these. */
  add(counts: CallCounts): void {
    this.calls += counts.calls;
    this.ok += counts.ok;
    this.errors += counts.errors;
    this.timeouts += counts.timeouts;
    this.cancelled += counts.cancelled;
    this.gone += counts.gone;
    this.latency.add(counts.latency);
  }
}

/** Latency percentiles of `counts` in milliseconds (undefined: no call was timed). */
export function percentiles(latency: LatencySnapshot): {
  p50Ms: number | undefined;
  p90Ms: number | undefined;
  p99Ms: number | undefined;
} {
  return {
    p50Ms: quantileOf(latency, 0.5),
    p90Ms: quantileOf(latency, 0.9),
    p99Ms: quantileOf(latency, 0.99),
  };
}
