import { mkdir } from "node:fs/promises";
import { dirname } from "node:path";
import { PUBSUB_HTTP_DEFAULTS, PubSubLog, type PubSubHttpOptions, type PubSubOptions } from "../index.js";
import { KvError } from "../kv/index.js";
import { CliError, EXIT } from "./errors.js";
import { booleanSetting, stringSetting, type Setting } from "./settings.js";

/** The hub's pub/sub settings, checked before `serve` listens anywhere. */
export interface PubSubServeOptions {
  /** History kept per channel: messages and estimated bytes. */
  readonly history: number | undefined;
  readonly historyBytes: number | undefined;
  /** How long a publish may wait for a `--lag wait` subscriber (ms). */
  readonly publishTimeout: number | undefined;
  /** The kv log history is kept in across restarts, or undefined for memory only (the default). */
  readonly file: string | undefined;
  /** Pub/sub over plain HTTP on the https listener: its limits, or false when off (`--pubsub-http off`). */
  readonly http: PubSubHttpOptions | false;
}

/** Resolves `--pubsub-*`: a value that is not a whole number is a usage error naming it. */
export function pubsubServeOptions(pick: (flag: string) => Setting<unknown> | undefined): PubSubServeOptions {
  const file = stringSetting(pick("pubsub-file"));
  return {
    history: wholeNumber(pick("pubsub-history")),
    historyBytes: wholeNumber(pick("pubsub-history-bytes")),
    publishTimeout: wholeNumber(pick("publish-timeout")),
    file: file === undefined || file.value === "off" ? undefined : file.value,
    http: pubsubHttpOptions(pick),
  };
}

/** `--pubsub-http on|off` and its limits; a limit given while it is off is a usage error. */
function pubsubHttpOptions(pick: (flag: string) => Setting<unknown> | undefined): PubSubHttpOptions | false {
  const on = booleanSetting(pick("pubsub-http"));
  const streams = pick("pubsub-http-streams");
  const ring = pick("pubsub-http-ring");
  if (on?.value === false) {
    const limit = streams ?? ring;
    if (limit !== undefined) {
      throw new CliError(
        `${limit.source} sets a limit of pub/sub over HTTP, which ${on.source} turns off`,
        EXIT.usage,
      );
    }
    return false;
  }
  const limits: PubSubHttpOptions = {};
  const maxStreams = positive(streams);
  if (maxStreams !== undefined) limits.maxStreams = maxStreams;
  const ringSize = positive(ring);
  if (ringSize !== undefined) limits.ring = ringSize;
  return limits;
}

function positive(setting: Setting<unknown> | undefined): number | undefined {
  const number = wholeNumber(setting);
  if (number === 0) throw new CliError(`${setting!.source} must be at least 1, got 0`, EXIT.usage);
  return number;
}

function wholeNumber(setting: Setting<unknown> | undefined): number | undefined {
  if (setting === undefined) return undefined;
  const { value, source } = setting;
  const number = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(number) || number < 0) {
    throw new CliError(`${source} must be a whole number >= 0, got ${JSON.stringify(value)}`, EXIT.usage);
  }
  return number;
}

/**
 * The hub's `pubsub` option from the settings: opens (and locks) the history log when one is
 * configured, reading its history back. Logs one status line.
 */
export async function openPubSub(
  options: PubSubServeOptions,
  log: (line: string) => void,
): Promise<PubSubOptions> {
  let history: PubSubLog | undefined;
  if (options.file !== undefined) {
    await mkdir(dirname(options.file), { recursive: true, mode: 0o700 });
    try {
      history = await PubSubLog.open(options.file);
    } catch (error) {
      if (error instanceof KvError)
        throw new CliError(`pub/sub: ${error.message}`, EXIT.usage, { cause: error });
      throw error;
    }
  }
  const limits: PubSubOptions = { log: history };
  if (options.history !== undefined) limits.history = options.history;
  if (options.historyBytes !== undefined) limits.historyBytes = options.historyBytes;
  if (options.publishTimeout !== undefined) limits.publishTimeout = options.publishTimeout;
  const restored = history === undefined ? 0 : history.restored.size;
  log(
    `pub/sub: history ${limits.history ?? 200} messages / ${limits.historyBytes ?? 1024 * 1024} bytes per channel; ` +
      (history === undefined
        ? "in memory only"
        : `kept in ${options.file} (${restored} channel${restored === 1 ? "" : "s"} restored)`),
  );
  return limits;
}

/** The status line of pub/sub over HTTP on the https listener at `url`. */
export function describePubSubHttp(url: string, http: PubSubHttpOptions | false): string {
  if (http === false) return "pub/sub over HTTP: off (--pubsub-http on to serve it)";
  const streams = http.maxStreams ?? PUBSUB_HTTP_DEFAULTS.maxStreams;
  const ring = http.ring ?? PUBSUB_HTTP_DEFAULTS.ring;
  return (
    `pub/sub over HTTP: GET ${url}/beamhub/v1/pubsub/CHANNEL follows (server-sent events; ` +
    `a browser's EventSource may send its token as ?access_token=), POST publishes; ` +
    `at most ${streams} streams, ${ring} messages held for a slow one`
  );
}
