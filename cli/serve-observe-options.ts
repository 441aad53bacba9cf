import { CliError, EXIT } from "./errors.js";
import { isLoopbackHost, parseListenAddress, type ListenAddress } from "./listen-address.js";
import { stringSetting, type Setting } from "./settings.js";

/** pino's levels, quietest last; `silent` logs nothing. */
export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal", "silent"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
/** `pretty`: one human line per event (the default); `json`: pino's JSON lines. */
export type LogFormat = "json" | "pretty";

/** How `serve` lets operators see inside it: metrics listener, logs, slow calls. */
export interface ObserveServeOptions {
  /** The plain loopback listener of `/metrics`, `/healthz`, `/readyz` (`--metrics`), if any. */
  readonly metrics: ListenAddress | undefined;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  /** `--slow-call MS`: calls at least this slow are logged (undefined: none). */
  readonly slowCallMs: number | undefined;
}

/** Resolves `--metrics`, `--log-level`, `--log-format` and `--slow-call`; bad values are usage errors naming the setting. */
export function observeServeOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
): ObserveServeOptions {
  const metricsSetting = stringSetting(pick("metrics"));
  const metrics = metricsSetting === undefined ? undefined : parseListenAddress(metricsSetting);
  if (metrics !== undefined && !isLoopbackHost(metrics.host)) {
    throw new CliError(
      `${metricsSetting!.source} ${metrics.host}: the plain metrics listener listens on loopback only (no TLS, no tokens); ` +
        "scrape /metrics on the https listener from other machines",
      EXIT.usage,
    );
  }
  const level = stringSetting(pick("log-level"));
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level.value)) {
    throw new CliError(
      `${level.source} takes one of ${LOG_LEVELS.join(", ")}; got ${JSON.stringify(level.value)}`,
      EXIT.usage,
    );
  }
  const format = stringSetting(pick("log-format"));
  if (format !== undefined && format.value !== "json" && format.value !== "pretty") {
    throw new CliError(
      `${format.source} takes json or pretty; got ${JSON.stringify(format.value)}`,
      EXIT.usage,
    );
  }
  const slow = pick("slow-call");
  let slowCallMs: number | undefined;
  if (slow !== undefined) {
    const text = String(slow.value).trim();
    slowCallMs = Number(text);
    if (text === "" || !Number.isFinite(slowCallMs) || slowCallMs <= 0) {
      throw new CliError(
        `${slow.source} takes a positive number of milliseconds; got ${JSON.stringify(slow.value)}`,
        EXIT.usage,
      );
    }
  }
  return {
    metrics,
    logLevel: (level?.value as LogLevel | undefined) ?? "info",
    logFormat: (format?.value as LogFormat | undefined) ?? "pretty",
    slowCallMs,
  };
}
