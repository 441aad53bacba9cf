/**
 * How a command's options are declared: once, for parsing (node:util parseArgs), for the usage
 * text and for the settings that may also come from a `BEAMHUB_*` variable or the config file.
 */

/** One flag of a command. */
export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** May be given more than once; parsing collects every value. */
  readonly multiple?: boolean;
  /** A one-letter alias (`-h`). */
  readonly short?: string;
  /** How usage names the value: `FILE`, `MS`, `HOST:PORT` (string options only). */
  readonly value?: string;
  /** What it does, as one paragraph usage wraps (a `\n` starts a new line). */
  readonly help: string;
  /** The default as usage states it, when there is one worth saying. */
  readonly defaultText?: string;
  /**
   * Also a `BEAMHUB_<NAME>` variable and a key of the config file, in that order after the flag
   * (see settings.ts): usage names the variable, and the config file may hold the key.
   */
  readonly setting?: boolean;
  /** Also a `BEAMHUB_<NAME>` variable, but no config key (`--config` itself). */
  readonly env?: boolean;
}

/** Options that belong together in usage (and are shared between commands as a whole). */
export interface OptionGroup {
  /** Usage's heading of the group, e.g. `hub options`; `[hub options]` in the synopsis. */
  readonly title: string;
  /** What the group is about, after the title in its heading: `TLS options (the hub's certificate):`. */
  readonly about?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  /** Prose printed after the group's options. */
  readonly note?: string;
  /** The synopsis lists these options one by one (`[--prefix P]`) instead of `[title]`. */
  readonly inline?: boolean;
}

/** The variable of a setting: `tls-cert` → `BEAMHUB_TLS_CERT`. */
export function envName(flag: string): string {
  return `BEAMHUB_${flag.toUpperCase().replace(/-/g, "_")}`;
}

/** `--name VALUE` (or `--name` for a boolean), as usage and error messages show an option. */
export function optionLabel(name: string, spec: OptionSpec): string {
  const short = spec.short === undefined ? "" : `-${spec.short}, `;
  const value = spec.type === "string" ? ` ${spec.value ?? "VALUE"}` : "";
  return `${short}--${name}${value}`;
}
