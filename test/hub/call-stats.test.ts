// What an instance counts: exact counts whatever the sampling, and timing by a sample of about
// 1000 calls a second (hub/stats/call-stats.ts), so that clock reads cost next to nothing at
// millions of calls a second while a rarely called service has every call timed.
import { describe, expect, it } from "vitest";
import {
  CallStats,
  MAX_TIMING_INTERVAL,
  SLOW_CALL_TIMING_INTERVAL,
  TIMED_PER_MS,
  timingInterval,
} from "../../hub/stats/call-stats.js";

describe("timingInterval", () => {
  it("times about one call a millisecond: all of a slow stream of calls, a sample of a fast one", () => {
    expect(TIMED_PER_MS).toBe(1);
    expect(timingInterval(0, Number.POSITIVE_INFINITY, MAX_TIMING_INTERVAL)).toBe(1); // the first
    expect(timingInterval(1, 5, MAX_TIMING_INTERVAL)).toBe(1); // 200 calls a second
    expect(timingInterval(40, 1, MAX_TIMING_INTERVAL)).toBe(40); // 40 000 a second
    expect(timingInterval(400, 1, MAX_TIMING_INTERVAL)).toBe(400);
    expect(timingInterval(5000, 1, MAX_TIMING_INTERVAL)).toBe(MAX_TIMING_INTERVAL); // 5 M a second
    expect(timingInterval(3, 0, MAX_TIMING_INTERVAL)).toBe(MAX_TIMING_INTERVAL); // in one clock tick
    expect(timingInterval(400, 1, SLOW_CALL_TIMING_INTERVAL)).toBe(SLOW_CALL_TIMING_INTERVAL);
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

  it("times every call of an instance called less than once a millisecond", async () => {
    const stats = new CallStats();
    for (let i = 0; i < 5; i++) {
      const started = stats.started();
      expect(started, `call ${i}`).toBeGreaterThan(0);
      stats.succeeded(started);
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    expect(stats.snapshot().latency.count).toBe(5);
  });

  it("times a sample of an instance called millions of times a second", () => {
    const stats = new CallStats();
    let timed = 0;
    for (let i = 0; i < 200_000; i++) {
      const started = stats.started();
      if (started !== 0) timed++;
      stats.succeeded(started);
    }
    // ~1 per ms of this loop, at least one in 1024 on average (the gaps are jittered).
    expect(timed).toBeGreaterThanOrEqual(1);
    expect(timed).toBeLessThan(20_000);
    expect(stats.calls).toBe(200_000);
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
