/**
 * A fixed-bucket latency histogram: recording is a short scan and one increment, so it can sit
 * on the call path; percentiles are estimated at read time by interpolating inside the bucket
 * that holds them (the way Prometheus' `histogram_quantile` does). The buckets are the ones the
 * `/metrics` histograms expose, so the hub keeps one set of counts for both.
 * @module
 */

/**
 * Upper bounds of the buckets in milliseconds (a last, unbounded bucket follows). From 25 µs (an
 * in-process call to a function) to 10 s (a call near the default timeout), about 2.5x apart.
 */
export const LATENCY_BUCKETS_MS: readonly number[] = Object.freeze([
  0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000,
]);

/** What a histogram holds at one moment: counts per bucket (not cumulative), sum, count. */
export interface LatencySnapshot {
  /** Counts per bucket of {@link LATENCY_BUCKETS_MS}, then the count above the last bound. */
  readonly buckets: readonly number[];
  /** Sum of the recorded latencies in milliseconds. */
  readonly sumMs: number;
  /** Number of recorded latencies. */
  readonly count: number;
}

export class LatencyHistogram {
  readonly #counts = new Float64Array(LATENCY_BUCKETS_MS.length + 1);
  #sum = 0;
  #count = 0;

  /** Records one latency in milliseconds. */
  record(ms: number): void {
    const bounds = LATENCY_BUCKETS_MS;
    let index = 0;
    while (index < bounds.length && ms > bounds[index]!) index++;
    this.#counts[index]! += 1;
    this.#sum += ms;
    this.#count += 1;
  }

  get count(): number {
    return this.#count;
  }

  /** Adds another histogram's counts to this one (totals of instances that went away). */
  add(snapshot: LatencySnapshot): void {
    for (let index = 0; index < this.#counts.length; index++) {
      this.#counts[index]! += snapshot.buckets[index] ?? 0;
    }
    this.#sum += snapshot.sumMs;
    this.#count += snapshot.count;
  }

  snapshot(): LatencySnapshot {
    return { buckets: [...this.#counts], sumMs: this.#sum, count: this.#count };
  }

  /** The estimated `q` quantile (0..1) in milliseconds; undefined when nothing was recorded. */
  quantile(q: number): number | undefined {
    return quantileOf(this.snapshot(), q);
  }
}

/**
 * The estimated `q` quantile (0..1) of a snapshot in milliseconds, interpolated linearly within
 * its bucket; a quantile in the unbounded last bucket is reported as the last bound. Undefined
 * when the snapshot is empty.
 */
export function quantileOf(snapshot: LatencySnapshot, q: number): number | undefined {
  if (snapshot.count === 0) return undefined;
  const rank = Math.min(Math.max(q, 0), 1) * snapshot.count;
  let below = 0;
  for (let index = 0; index < snapshot.buckets.length; index++) {
    const inBucket = snapshot.buckets[index]!;
    if (inBucket > 0 && below + inBucket >= rank) {
      const upper = LATENCY_BUCKETS_MS[index];
      if (upper === undefined) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
      const lower = index === 0 ? 0 : LATENCY_BUCKETS_MS[index - 1]!;
      return lower + ((upper - lower) * (rank - below)) / inBucket;
    }
    below += inBucket;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}
