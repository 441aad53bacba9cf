/**
 * `serve`'s log: pino, with levels and JSON lines (`--log-format json`) for log collectors, or
 * one human line per event (`pretty`, the default) for a terminal or journald, which add their
 * own time stamps. pino-pretty is not a dependency: the few lines below format what serve logs.
 * Secrets are redacted before any line is written.
 * @module
 */
import { createRequire } from "node:module";
import type * as PinoModule from "pino";
import type { Logger } from "pino";
import type { LogFormat, LogLevel } from "./serve-observe-options.js";

export type { Logger };

/**
 * Fields that may carry secrets, wherever they appear in a logged object: pino replaces their
 * values before formatting. serve never logs them on purpose; this catches one passed by mistake.
 */
const REDACT = [
  "authorization",
  "token",
  "tokens",
  "key",
  "password",
  "secret",
  "cookie",
  "*.authorization",
  "*.token",
  "*.key",
  "*.password",
  "*.secret",
  "*.cookie",
  "headers.authorization",
  "*.headers.authorization",
];

/** pino's own fields and the event's kind: a pretty line shows the message and the event's fields, not these. */
const OWN_FIELDS = new Set(["level", "time", "pid", "hostname", "msg", "event"]);
const LEVEL_NAMES: Record<number, string> = {
  10: "trace",
  20: "debug",
  30: "info",
  40: "warn",
  50: "error",
  60: "fatal",
};
const PREFIXES: Record<string, string> = {
  trace: "trace: ",
  debug: "debug: ",
  warn: "warning: ",
  error: "error: ",
  fatal: "fatal: ",
};

/** A logger writing lines (without their newline) to `write`. */
export function createLogger(
  options: { level: LogLevel; format: LogFormat },
  write: (line: string) => void,
): Logger {
  // Loaded here, not at import: every beamhub command imports this module, only serve logs.
  const pino = createRequire(import.meta.url)("pino") as typeof PinoModule.default;
  const destination = {
    write(chunk: string): void {
      const line = chunk.endsWith("\n") ? chunk.slice(0, -1) : chunk;
      write(options.format === "json" ? line : prettyLine(line));
    },
  };
  return pino(
    {
      level: options.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      redact: { paths: REDACT, censor: "[redacted]" },
      formatters: { level: (label: string) => ({ level: label }) },
    },
    destination,
  );
}

/**
 * One JSON line as a human line: the message, prefixed by its level unless info (so serve's
 * status lines read as they always did), then the event's fields as `key=value`.
 */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json;
  }
  const level =
    typeof record.level === "number" ? (LEVEL_NAMES[record.level] ?? "info") : String(record.level);
  const message = typeof record.msg === "string" ? record.msg : "";
  const prefix = PREFIXES[level] ?? "";
  const fields = Object.entries(record)
    .filter(([name, value]) => !OWN_FIELDS.has(name) && value !== undefined)
    .map(([name, value]) => `${name}=${formatValue(value)}`);
  return [prefix + message, ...fields].filter((part) => part !== "").join(" ");
}

function formatValue(value: unknown): string {
  if (typeof value === "string") return /^[\w.:/@+-]+$/.test(value) ? value : JSON.stringify(value);
  if (typeof value === "object" && value !== null) return JSON.stringify(value);
  return String(value);
}

/**
 * The `log(line)` function serve's parts take, on `logger`: lines that start with "warning: "
 * are warnings, "error: " errors (something that needs the operator), the rest information.
 */
export function lineLogger(logger: Logger): (line: string) => void {
  return (line) => {
    if (line.startsWith("warning: ")) logger.warn(line.slice("warning: ".length));
    else if (line.startsWith("error: ")) logger.error(line.slice("error: ".length));
    else logger.info(line);
  };
}
