/**
 * What the hub counts about the calls an instance serves. Counting is a decrement and an
 * increment on the call path. Timing costs two clock reads, and a clock read is not cheap:
 * `performance.now()` took 75–95 ns on the 2-core test VM (kvm-clock), so timing one call in
 * 32, as this did before, was ~5 ns a call: most of the 6–11 % the figures cost a ~60–200 ns
 * call to a synchronous in-process handler (bench/metrics-cost.ts, `node --cpu-prof`).
 *
 * So how often a call is timed follows what the last timed call took: timing may cost about
 * {@link TIMING_BUDGET} of the calls it samples. A call of 40 µs or more is timed every time
 * (two clock reads are then ≤ 0.5 % of it), one of 1 µs about one in 40, one of 100 ns about one
 * in 400, never fewer than one in {@link MAX_TIMING_INTERVAL} (one in
 * {@link SLOW_CALL_TIMING_INTERVAL} while slow calls are reported, so that a fast service that
 * turns slow is noticed within a few dozen calls). The first call is always timed. The gaps
 * between timed calls are jittered around their mean so that a service whose slow calls come
 * in a regular pattern is not sampled in step with it. A percentile needs a sample, not every
 * call; the counts themselves are exact.
 * @module
 */
import { performance } from "node:perf_hooks";
import { LatencyHistogram, quantileOf, type LatencySnapshot } from "./latency-histogram.js";

/** Two clock reads as a share of a call that timing may cost on average (0.5 %). */
export const TIMING_BUDGET = 0.005;
/** What two `performance.now()` reads cost, in ms (measured: 2 × 75–95 ns; rounded up). */
const TWO_CLOCK_READS_MS = 0.0002;
/** A call that took this long (ms) or longer makes the next one timed too: 40 µs. */
export const TIME_EVERY_ABOVE_MS = TWO_CLOCK_READS_MS / TIMING_BUDGET;
/** The most calls between two timed ones (on average), however fast the calls are. */
export const MAX_TIMING_INTERVAL = 1024;
/** The same while the hub reports slow calls (`slowCallMs`). */
export const SLOW_CALL_TIMING_INTERVAL = 32;

/**
 * Every how many calls (on average) an instance whose last timed call took `ms` is timed: the
 * interval that keeps timing within {@link TIMING_BUDGET}, between 1 and `max`.
 */
export function timingInterval(ms: number, max: number): number {
  if (ms >= TIME_EVERY_ABOVE_MS) return 1;
  return Math.min(max, Math.max(1, Math.round(TIME_EVERY_ABOVE_MS / ms)));
}

/** A gap of 1 to 2 × `interval` − 1 calls, `interval` on average. */
function jittered(interval: number): number {
  return interval === 1 ? 1 : 1 + Math.floor(Math.random() * (2 * interval - 1));
}

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
  ok = 0;
  errors = 0;
  timeouts = 0;
  cancelled = 0;
  gone = 0;
  readonly latency = new LatencyHistogram();
  /** Calls left until the next timed one; goes below 1 while a timed call is still running. */
  #countdown = 1;
  /** `calls + #countdown`: a call moves one from the countdown to the calls, leaving this as is. */
  #callsPlusCountdown = 1;
  /** The mean gap between timed calls now (see the module's note). */
  #interval = 1;
  readonly #maxInterval: number;

  /** `maxInterval`: the most calls between timed ones ({@link MAX_TIMING_INTERVAL} by default). */
  constructor(maxInterval = MAX_TIMING_INTERVAL) {
    this.#maxInterval = maxInterval;
  }

  /** Calls handed to the handler so far. */
  get calls(): number {
    return this.#callsPlusCountdown - this.#countdown;
  }

  /** A call starts on this instance: its start time, or 0 when this call is not timed. */
  started(): number {
    return --this.#countdown === 0 ? this.#startTimed() : 0;
  }

  #startTimed(): number {
    // Until this call's time decides the next gap, the current one holds: a call that never
    // ends must not stop the sampling.
    this.#setCountdown(jittered(this.#interval));
    return performance.now();
  }

  #setCountdown(next: number): void {
    this.#callsPlusCountdown += next - this.#countdown;
    this.#countdown = next;
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
    this.latency.record(ms);
    this.#interval = timingInterval(ms, this.#maxInterval);
    this.#setCountdown(jittered(this.#interval));
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
    this.#callsPlusCountdown += counts.calls;
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
