// What an instance counts: exact counts whatever the sampling, and timing by a sample whose rate
// follows the calls' duration (hub/stats/call-stats.ts), so that two clock reads cost about
// 0.5 % of the calls they time.
import { describe, expect, it } from "vitest";
import {
  CallStats,
  MAX_TIMING_INTERVAL,
  SLOW_CALL_TIMING_INTERVAL,
  TIME_EVERY_ABOVE_MS,
  timingInterval,
} from "../../hub/stats/call-stats.js";

describe("timingInterval", () => {
  it("times every call of 40 µs or more, and fewer the faster the calls", () => {
    expect(TIME_EVERY_ABOVE_MS).toBeCloseTo(0.04);
    expect(timingInterval(0.04, MAX_TIMING_INTERVAL)).toBe(1);
    expect(timingInterval(25, MAX_TIMING_INTERVAL)).toBe(1);
    expect(timingInterval(0.001, MAX_TIMING_INTERVAL)).toBe(40); // 1 µs
    expect(timingInterval(0.0001, MAX_TIMING_INTERVAL)).toBe(400); // 100 ns
    expect(timingInterval(0.00001, MAX_TIMING_INTERVAL)).toBe(MAX_TIMING_INTERVAL);
    expect(timingInterval(0, MAX_TIMING_INTERVAL)).toBe(MAX_TIMING_INTERVAL);
    expect(timingInterval(0.0001, SLOW_CALL_TIMING_INTERVAL)).toBe(SLOW_CALL_TIMING_INTERVAL);
  });
});

describe("CallStats", () => {
  it("counts every call and outcome exactly, and times the first", () => {
    const stats = new CallStats();
    for (let i = 0; i < 10_000; i++) {
      const started = stats.started();
      if (i % 100 === 0) stats.ended("error", started);
      else if (i % 101 === 0) stats.ended("timeout", started);
      else stats.succeeded(started);
    }
    const counts = stats.snapshot();
    expect(counts.calls).toBe(10_000);
    expect(counts.errors).toBe(100);
    expect(counts.timeouts).toBe(99); // the 100 multiples of 101 below 10 000, but 0 (an error)
    expect(counts.ok + counts.errors + counts.timeouts).toBe(10_000);
    expect(counts.latency.count).toBeGreaterThanOrEqual(1);
    expect(counts.latency.count).toBeLessThanOrEqual(10_000);
    expect(counts.latency.buckets.reduce((a, b) => a + b, 0)).toBe(counts.latency.count);
  });

  it("keeps sampling when a timed call never ends, and counts calls in flight", () => {
    const stats = new CallStats(SLOW_CALL_TIMING_INTERVAL);
    const first = stats.started(); // timed, and never ends
    expect(first).toBeGreaterThan(0);
    let timed = 0;
    for (let i = 0; i < 10 * SLOW_CALL_TIMING_INTERVAL; i++) {
      const started = stats.started();
      if (started !== 0) timed++;
      stats.succeeded(started);
    }
    // At least one in 2 × 32 − 1 calls is timed while that first call is still open.
    expect(timed).toBeGreaterThanOrEqual(5);
    expect(stats.calls).toBe(1 + 10 * SLOW_CALL_TIMING_INTERVAL);
    expect(stats.ok).toBe(10 * SLOW_CALL_TIMING_INTERVAL);
  });

  it("a slow call makes the next one timed", async () => {
    const stats = new CallStats();
    stats.succeeded(stats.started()); // the first, fast: the gap grows
    let started = 0;
    while (started === 0) {
      started = stats.started();
      if (started === 0) stats.succeeded(0);
    }
    await new Promise((resolve) => setTimeout(resolve, 2)); // this timed call takes ≥ 2 ms
    expect(stats.succeeded(started)).toBeGreaterThanOrEqual(1);
    expect(stats.started()).toBeGreaterThan(0);
  });

  it("adds the counts of another (an instance that went away)", () => {
    const gone = new CallStats();
    for (let i = 0; i < 7; i++) gone.succeeded(gone.started());
    const total = new CallStats();
    total.add(gone.snapshot());
    total.add(gone.snapshot());
    expect(total.snapshot()).toMatchObject({ calls: 14, ok: 14 });
    total.succeeded(total.started());
    expect(total.calls).toBe(15);
  });
});
