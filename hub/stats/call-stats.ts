/**
 * What the hub counts about the calls an instance serves. Counting is a decrement and an
 * increment on the call path. Timing costs two clock reads, and a clock read is not cheap:
 * `performance.now()` took 75–95 ns on the 2-core test VM (kvm-clock), so timing one call in
 * 32, as this did before, was ~5 ns a call: most of the 6–11 % the figures cost a ~60–200 ns
 * call to a synchronous in-process handler (bench/metrics-cost.ts, `node --cpu-prof`).
 *
 * So an instance's calls are timed at about {@link TIMED_PER_MS} per millisecond (1000 a
 * second) whatever their rate: an instance called less often than that has every call timed;
 * a faster one one call in (its rate ÷ 1000), measured afresh at each timed call, and at least
 * one in {@link MAX_TIMING_INTERVAL} (one in {@link SLOW_CALL_TIMING_INTERVAL} while slow calls
 * are reported, so that a busy service that turns slow is noticed within a few dozen calls).
 * Timing then costs at most ~0.2 ms of CPU a second per busy instance, and ~0.2 ns a call at
 * millions of calls a second. The rule follows the call rate, not the calls' duration: with
 * many calls in flight a call's latency (tens of µs, queued behind the others) says nothing
 * of what it costs (under 1 µs), and a duration rule timed every such call (measured: 0.85
 * on/off with 100 async calls in flight). The first call is always timed. The gaps between
 * timed calls are jittered around their mean so that a service whose slow calls come in a
 * regular pattern is not sampled in step with it. A percentile needs a sample, not every call;
 * the counts themselves are exact.
 * @module
 */
import { performance } from "node:perf_hooks";
import { LatencyHistogram, quantileOf, type LatencySnapshot } from "./latency-histogram.js";

/** Calls timed per millisecond (at most, on average) of an instance called faster than that. */
export const TIMED_PER_MS = 1;
/** The most calls between two timed ones (on average), however fast the calls come. */
export const MAX_TIMING_INTERVAL = 1024;
/** The same while the hub reports slow calls (`slowCallMs`). */
export const SLOW_CALL_TIMING_INTERVAL = 32;

/**
 * Every how many calls (on average) an instance that served `calls` calls in the last `ms`
 * milliseconds is timed: about {@link TIMED_PER_MS} timed calls a millisecond, between 1 and `max`.
 */
export function timingInterval(calls: number, ms: number, max: number): number {
  const perMs = ms > 0 ? calls / ms : Number.POSITIVE_INFINITY;
  return Math.min(max, Math.max(1, Math.round(perMs / TIMED_PER_MS)));
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
  /** When the last timed call started (`performance.now()`), and the calls counted then. */
  #lastTimedAt = Number.NEGATIVE_INFINITY;
  #callsAtLastTimed = 0;
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

  /** A call to time: the next gap follows the calls' rate since the last timed one. */
  #startTimed(): number {
    const now = performance.now();
    const calls = this.calls;
    const interval = timingInterval(
      calls - this.#callsAtLastTimed,
      now - this.#lastTimedAt,
      this.#maxInterval,
    );
    this.#lastTimedAt = now;
    this.#callsAtLastTimed = calls;
    this.#setCountdown(jittered(interval));
    return now;
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
