/**
 * A prom-client metric whose values are computed at scrape time from figures the hub already
 * keeps. The call path then pays for its own counters only, never for prom-client's label
 * lookups: prom-client reads these through the same `get()` its own metrics answer, so they sit
 * in a normal `Registry` next to the user's metrics and the default ones.
 * @module
 */
import type { Metric, Registry } from "prom-client";

/** One sample: labels and value, and for a histogram the series it belongs to (`_bucket`, ...). */
export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

/** What a snapshot metric is. */
export interface SnapshotMetricSpec {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  /** The samples now; called once per scrape. */
  samples(): Sample[];
}

/** A metric prom-client's `Registry.registerMetric` takes, computed at each scrape. */
export class SnapshotMetric {
  readonly name: string;
  readonly help: string;
  readonly type: SnapshotMetricSpec["type"];
  /** How prom-client's cluster mode combines the workers' values. */
  readonly aggregator = "sum" as const;
  readonly #samples: () => Sample[];

  constructor(spec: SnapshotMetricSpec) {
    this.name = spec.name;
    this.help = spec.help;
    this.type = spec.type;
    this.#samples = spec.samples;
  }

  get(): Promise<{ name: string; help: string; type: string; aggregator: "sum"; values: Sample[] }> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.#samples(),
    });
  }

  /** Nothing to reset: the figures belong to the hub. */
  reset(): void {}
}

/**
 * Registers `metric` in `registry`. prom-client's types want one of its own classes; at run time
 * it asks only for `name`, `help`, `type`, `get()` and `reset()`, which a snapshot metric has.
 */
export function registerSnapshotMetric(registry: Registry, metric: SnapshotMetric): void {
  registry.registerMetric(metric as unknown as Metric);
}
