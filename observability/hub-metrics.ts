/**
 * A hub's figures as Prometheus metrics (`prom-client`): calls by service and outcome, latency
 * histograms, calls in flight, sessions by transport, bytes, frames and fds both ways, open
 * streams and channels, gateway connections by mode, task figures, pub/sub totals, and prom-client's default
 * process metrics (event-loop lag, memory, CPU, handles). Everything is read from the hub at
 * scrape time (`hub.stats()`, once per scrape), so turning metrics on adds nothing to a call.
 * @module
 */
import { createRequire } from "node:module";
import type * as PromClient from "prom-client";
import type { Registry } from "prom-client";
import type { Hub } from "../hub/hub.js";
import type { HubStats } from "../hub/stats/hub-stats.js";
import { LATENCY_BUCKETS_MS } from "../hub/stats/latency-histogram.js";
import { InvalidArgumentError } from "../model/errors.js";
import type { PubSubFigures } from "../pubsub/pubsub-counters.js";
import type { HttpsRefusal } from "../transports/http2/refusal-log.js";
import { registerSnapshotMetric, SnapshotMetric, type Sample } from "./snapshot-metric.js";

/** Options of {@link hubMetrics}. */
export interface HubMetricsOptions {
  /** The registry to add the metrics to (default: a new one). */
  registry?: Registry;
  /** Prefix of every metric name (default `beamhub_`). */
  prefix?: string;
  /** Add prom-client's default process metrics, event-loop lag among them (default true). */
  defaultMetrics?: boolean;
}

/** What a TCP gateway counts (a `TcpConnector`'s or a `TcpExposure`'s `stats`). */
export interface GatewayFigures {
  /** Connections whose socket went to the other side as an fd (the hub left the data path). */
  readonly handedOver?: number;
  /** Connections relayed over a byte stream. */
  readonly relayed?: number;
  /** Of those handed over, the sockets given to programs through the hand-off socket. */
  readonly toPrograms?: number;
  readonly failed?: number;
}

/** What a task broker counts. */
export interface TaskFigures {
  /** Tasks held now. */
  readonly tasks: number;
  /** Requests waiting now (long polls and event streams). */
  readonly waiting: number;
}

/** A hub's metrics: the registry to scrape, and sources to add. */
export interface HubMetrics {
  readonly registry: Registry;
  /** Adds a TCP gateway's connection counts, labelled `gateway=<name>`; returns the remover. */
  addGateway(name: string, stats: () => GatewayFigures): () => void;
  /** Adds a task broker's figures (one at most). */
  addTasks(figures: () => TaskFigures): void;
  /**
   * Counts a refusal report (an `onRefused` of the https listener, the Mles face, the task
   * sockets) in `https_refused_total{status,face,code}`: the refusal and those its report says
   * were left out of the log (`suppressed`), so the counter misses none.
   */
  countRefusal(refusal: HttpsRefusal): void;
}

/**
 * The metrics of `hub` in a prom-client registry. Serve `registry.metrics()` (as
 * `metricsRequestListener` does) or merge the registry with your own.
 *
 * ```ts
 * const metrics = hubMetrics(hub);
 * const text = await metrics.registry.metrics(); // Prometheus text format
 * ```
 */
export function hubMetrics(hub: Hub, options: HubMetricsOptions = {}): HubMetrics {
  const promClient = loadPromClient();
  const registry = options.registry ?? new promClient.Registry();
  const prefix = options.prefix ?? "beamhub_";
  if (!/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(prefix))
    throw new InvalidArgumentError(`metrics prefix must be a Prometheus name, got ${JSON.stringify(prefix)}`);
  const gateways = new Map<string, () => GatewayFigures>();
  let tasks: (() => TaskFigures) | undefined;

  // One hub.stats() per scrape: prom-client asks every metric within one synchronous loop.
  let cached: HubStats | undefined;
  const stats = (): HubStats => {
    if (cached === undefined) {
      cached = hub.stats();
      setImmediate(() => (cached = undefined));
    }
    return cached;
  };
  const add = (
    name: string,
    type: "counter" | "gauge" | "histogram",
    help: string,
    samples: () => Sample[],
  ): void =>
    registerSnapshotMetric(registry, new SnapshotMetric({ name: prefix + name, help, type, samples }));

  add("calls_total", "counter", "Calls handed to an instance, by service and outcome.", () =>
    stats().services.flatMap((service) =>
      (["ok", "error", "timeout", "cancelled", "gone"] as const).map((outcome) => ({
        labels: { service: service.name, outcome },
        value:
          outcome === "error" ? service.errors : outcome === "timeout" ? service.timeouts : service[outcome],
      })),
    ),
  );
  add("calls_not_found_total", "counter", "Calls to a name nobody served.", () => [
    { labels: {}, value: stats().notFound },
  ]);
  add("forbidden_total", "counter", "Calls and registrations the access rules refused.", () => [
    { labels: {}, value: stats().forbidden },
  ]);
  add(
    "call_duration_seconds",
    "histogram",
    "Call latency at the hub, by service (a sample of about 1000 calls a second per instance).",
    () => stats().services.flatMap((service) => histogramSamples(prefix + "call_duration_seconds", service)),
  );
  add("calls_in_flight", "gauge", "Calls instances serve right now, by service.", () =>
    stats().services.map((service) => ({ labels: { service: service.name }, value: service.inFlight })),
  );
  add("service_instances", "gauge", "Registered instances, by service.", () =>
    stats().services.map((service) => ({ labels: { service: service.name }, value: service.instances })),
  );
  add("sessions", "gauge", "Open sessions, by transport.", () =>
    Object.entries(stats().sessions).map(([transport, value]) => ({ labels: { transport }, value })),
  );
  add("sessions_opened_total", "counter", "Sessions opened, by transport.", () =>
    Object.entries(stats().sessionsOpened).map(([transport, value]) => ({ labels: { transport }, value })),
  );
  add("bytes_total", "counter", "Session bytes over a wire, by direction.", () => {
    const { bytesIn, bytesOut } = stats().traffic;
    return [
      { labels: { direction: "in" }, value: bytesIn },
      { labels: { direction: "out" }, value: bytesOut },
    ];
  });
  add("frames_total", "counter", "Session frames over a wire, by direction.", () => {
    const { framesIn, framesOut } = stats().traffic;
    return [
      { labels: { direction: "in" }, value: framesIn },
      { labels: { direction: "out" }, value: framesOut },
    ];
  });
  add("fds_passed_total", "counter", "File descriptors passed over Unix sessions, by direction.", () => {
    const { fdsIn, fdsOut } = stats().traffic;
    return [
      { labels: { direction: "in" }, value: fdsIn },
      { labels: { direction: "out" }, value: fdsOut },
    ];
  });
  add("streams", "gauge", "Byte streams open over wire sessions.", () => [
    { labels: {}, value: stats().streams },
  ]);
  add("channels", "gauge", "Channels open over wire sessions (root channels included).", () => [
    { labels: {}, value: stats().channels },
  ]);
  add("gateway_connections_total", "counter", "TCP gateway connections, by gateway and mode.", () =>
    [...gateways].flatMap(([gateway, read]) => {
      const figures = safely(read) ?? {};
      return (["handedOver", "relayed", "toPrograms", "failed"] as const)
        .filter((mode) => typeof figures[mode] === "number")
        .map((mode) => ({ labels: { gateway, mode: MODE_LABELS[mode] }, value: figures[mode]! }));
    }),
  );
  add("tasks", "gauge", "Tasks the task broker holds.", () => {
    const figures = tasks === undefined ? undefined : safely(tasks);
    return figures === undefined ? [] : [{ labels: {}, value: figures.tasks }];
  });
  add("task_waiters", "gauge", "Task API requests waiting (long polls, event streams).", () => {
    const figures = tasks === undefined ? undefined : safely(tasks);
    return figures === undefined ? [] : [{ labels: {}, value: figures.waiting }];
  });
  // Pub/sub: totals over all channels (never per channel: peers choose the names, and a series
  // each would let them grow every scraper's memory).
  let pubsubCached: PubSubFigures | undefined;
  const pubsub = (): PubSubFigures => {
    if (pubsubCached === undefined) {
      pubsubCached = hub.pubsub.figures(); // once per scrape, as hub.stats()
      setImmediate(() => (pubsubCached = undefined));
    }
    return pubsubCached;
  };
  add(
    "pubsub_channels",
    "gauge",
    "Pub/sub channels in use (subscribers, history or waiting publications).",
    () => [{ labels: {}, value: pubsub().channels }],
  );
  add("pubsub_subscribers", "gauge", "Pub/sub subscriptions open, over all channels.", () => [
    { labels: {}, value: pubsub().subscribers },
  ]);
  add(
    "pubsub_history_messages",
    "gauge",
    "Messages pub/sub keeps for late joiners, over all channels.",
    () => [{ labels: {}, value: pubsub().historyMessages }],
  );
  add(
    "pubsub_history_bytes",
    "gauge",
    "Estimated size of the messages pub/sub keeps, over all channels.",
    () => [{ labels: {}, value: pubsub().historyBytes }],
  );
  add("pubsub_published_total", "counter", "Messages published to pub/sub channels.", () => [
    { labels: {}, value: pubsub().published },
  ]);
  add(
    "pubsub_delivered_total",
    "counter",
    "Messages handed to pub/sub subscribers (one per subscriber).",
    () => [{ labels: {}, value: pubsub().delivered }],
  );
  add(
    "pubsub_dropped_total",
    "counter",
    "Messages drop-oldest subscribers lost by reading too slowly (told to them as Lagged).",
    () => [{ labels: {}, value: pubsub().dropped }],
  );
  // Refusals by kind: status, face and beamhub's code (a small fixed set; other codes share "other").
  const refusals = new Map<string, Sample>();
  add(
    "https_refused_total",
    "counter",
    "HTTPS requests and upgrades refused (401, 403, 409, 429, 503), by status, face and code.",
    () => [...refusals.values()],
  );
  if (options.defaultMetrics !== false) promClient.collectDefaultMetrics({ register: registry, prefix });

  return {
    registry,
    addGateway(name, read) {
      if (typeof read !== "function") throw new InvalidArgumentError("addGateway needs a function");
      gateways.set(name, read);
      return () => {
        if (gateways.get(name) === read) gateways.delete(name);
      };
    },
    addTasks(read) {
      if (typeof read !== "function") throw new InvalidArgumentError("addTasks needs a function");
      tasks = read;
    },
    countRefusal(refusal) {
      const labels = {
        status: String(refusal.status),
        face: refusal.face ?? "beamhub",
        code: refusal.code !== undefined && /^E[A-Z_]{1,40}$/.test(refusal.code) ? refusal.code : "other",
      };
      const key = `${labels.status} ${labels.face} ${labels.code}`;
      const sample = refusals.get(key) ?? { labels, value: 0 };
      sample.value += 1 + refusal.suppressed;
      refusals.set(key, sample);
    },
  };
}

/**
 * prom-client, loaded on first use: importing it costs 100-300 ms on the 2-core test machine,
 * which every program importing beamhub would pay whether or not it serves metrics.
 */
function loadPromClient(): typeof PromClient {
  return createRequire(import.meta.url)("prom-client") as typeof PromClient;
}

const MODE_LABELS = {
  handedOver: "handed_over",
  relayed: "relayed",
  toPrograms: "to_programs",
  failed: "failed",
} as const;

/** A service's latency histogram as Prometheus series: cumulative buckets in seconds, sum, count. */
function histogramSamples(name: string, service: HubStats["services"][number]): Sample[] {
  const samples: Sample[] = [];
  let cumulative = 0;
  const { buckets, sumMs, count } = service.latency;
  LATENCY_BUCKETS_MS.forEach((boundMs, index) => {
    cumulative += buckets[index] ?? 0;
    samples.push({
      metricName: `${name}_bucket`,
      labels: { service: service.name, le: boundMs / 1000 },
      value: cumulative,
    });
  });
  samples.push({ metricName: `${name}_bucket`, labels: { service: service.name, le: "+Inf" }, value: count });
  samples.push({ metricName: `${name}_sum`, labels: { service: service.name }, value: sumMs / 1000 });
  samples.push({ metricName: `${name}_count`, labels: { service: service.name }, value: count });
  return samples;
}

/** A source's figures, or undefined when it throws (a scrape must not fail over one source). */
function safely<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}
