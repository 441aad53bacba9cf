import { InvalidArgumentError } from "../model/errors.js";
import type { HistoryLimits, LagPolicy, PubSubOptions, SubscribeOptions } from "./types.js";

/** Defaults of {@link PubSubOptions} (history and its byte cap are per channel). */
export const PUBSUB_DEFAULTS = Object.freeze({
  history: 200,
  historyBytes: 1024 * 1024,
  publishTimeout: 10_000,
  maxChannels: 1024,
  maxRing: 65_536,
  ring: 1024,
  ringBytes: 8 * 1024 * 1024,
  maxRingBytes: 64 * 1024 * 1024,
});

/** The options of a PubSub, checked and with defaults filled in. */
export interface PubSubConfig {
  readonly history: number;
  readonly historyBytes: number;
  readonly channels: ReadonlyMap<string, Required<HistoryLimits>>;
  readonly publishTimeout: number;
  readonly maxChannels: number;
  readonly maxRing: number;
  readonly maxRingBytes: number;
}

function count(name: string, value: unknown, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min) {
    throw new InvalidArgumentError(
      `pub/sub option ${name} must be an integer >= ${min}, got ${String(value)}`,
    );
  }
  return value;
}

/** Fails at construction, not at the first publish: every option checked, defaults filled in. */
export function verifyPubSubOptions(options: PubSubOptions = {}): PubSubConfig {
  const history = count("history", options.history, PUBSUB_DEFAULTS.history);
  const historyBytes = count("historyBytes", options.historyBytes, PUBSUB_DEFAULTS.historyBytes);
  const channels = new Map<string, Required<HistoryLimits>>();
  for (const [name, limits] of Object.entries(options.channels ?? {})) {
    channels.set(name, {
      history: count(`channels[${JSON.stringify(name)}].history`, limits.history, history),
      historyBytes: count(
        `channels[${JSON.stringify(name)}].historyBytes`,
        limits.historyBytes,
        historyBytes,
      ),
    });
  }
  return {
    history,
    historyBytes,
    channels,
    publishTimeout: count("publishTimeout", options.publishTimeout, PUBSUB_DEFAULTS.publishTimeout),
    maxChannels: count("maxChannels", options.maxChannels, PUBSUB_DEFAULTS.maxChannels, 1),
    maxRing: count("maxRing", options.maxRing, PUBSUB_DEFAULTS.maxRing, 1),
    maxRingBytes: count("maxRingBytes", options.maxRingBytes, PUBSUB_DEFAULTS.maxRingBytes, 1),
  };
}

/** `subscribe`'s options, checked, with defaults filled in. */
export interface SubscribeConfig {
  readonly history: number | undefined;
  readonly echo: boolean;
  readonly lag: LagPolicy;
  readonly ring: number;
  readonly ringBytes: number;
  readonly after: number | undefined;
}

/** Checks `subscribe`'s options: `history` undefined in the result means all of it. */
export function verifySubscribeOptions(
  options: SubscribeOptions,
  maxRing: number,
  maxRingBytes: number = PUBSUB_DEFAULTS.maxRingBytes,
): SubscribeConfig {
  const { history = true, echo = true, lag = "drop-oldest" } = options;
  if (typeof history !== "boolean" && !(Number.isSafeInteger(history) && history >= 0)) {
    throw new InvalidArgumentError(
      `subscribe option history must be a boolean or an integer >= 0, got ${String(history)}`,
    );
  }
  if (typeof echo !== "boolean") throw new InvalidArgumentError(`subscribe option echo must be a boolean`);
  if (lag !== "wait" && lag !== "drop-oldest") {
    throw new InvalidArgumentError(
      `subscribe option lag must be "wait" or "drop-oldest", got ${JSON.stringify(lag)}`,
    );
  }
  const ring = options.ring ?? Math.min(PUBSUB_DEFAULTS.ring, maxRing);
  if (!Number.isSafeInteger(ring) || ring < 1 || ring > maxRing) {
    throw new InvalidArgumentError(
      `subscribe option ring must be an integer from 1 to ${maxRing}, got ${String(ring)}`,
    );
  }
  const ringBytes = options.ringBytes ?? Math.min(PUBSUB_DEFAULTS.ringBytes, maxRingBytes);
  if (!Number.isSafeInteger(ringBytes) || ringBytes < 1 || ringBytes > maxRingBytes) {
    throw new InvalidArgumentError(
      `subscribe option ringBytes must be an integer from 1 to ${maxRingBytes}, got ${String(ringBytes)}`,
    );
  }
  const { after } = options;
  if (after !== undefined && !(Number.isSafeInteger(after) && after >= 0)) {
    throw new InvalidArgumentError(`subscribe option after must be an integer >= 0, got ${String(after)}`);
  }
  return {
    history: history === true ? undefined : history === false ? 0 : history,
    echo,
    lag,
    ring,
    ringBytes,
    after,
  };
}
