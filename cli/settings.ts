import { CliError, EXIT } from "./errors.js";
import { envName } from "./options/option-spec.js";

/** One setting's value and where it came from, so an error can name what the user typed. */
export interface Setting<T> {
  readonly value: T;
  /** `--tls-cert`, `BEAMHUB_TLS_CERT` or `config key tls-cert`. */
  readonly source: string;
}

/**
 * The first of the flag, its `BEAMHUB_*` variable and the config file's key of the same name,
 * the precedence every option of the CLI follows.
 */
export function pickSetting(
  flag: string,
  flags: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
  file: Readonly<Record<string, unknown>>,
): Setting<unknown> | undefined {
  if (flags[flag] !== undefined) return { value: flags[flag], source: `--${flag}` };
  const variable = envName(flag);
  if (env[variable] !== undefined) return { value: env[variable], source: variable };
  if (file[flag] !== undefined) return { value: file[flag], source: `config key ${flag}` };
  return undefined;
}

/** A setting that must be a non-empty string (a path, an address). */
export function stringSetting(setting: Setting<unknown> | undefined): Setting<string> | undefined {
  if (setting === undefined) return undefined;
  if (typeof setting.value !== "string" || setting.value === "") {
    throw new CliError(`${setting.source} must be a non-empty string`, EXIT.usage);
  }
  return { value: setting.value, source: setting.source };
}

/** A yes/no setting: a boolean flag or config value, or `true`/`false`/`1`/`0`/`yes`/`no` in the environment. */
export function booleanSetting(setting: Setting<unknown> | undefined): Setting<boolean> | undefined {
  if (setting === undefined) return undefined;
  const { value, source } = setting;
  if (typeof value === "boolean") return { value, source };
  const text = typeof value === "string" ? value.trim().toLowerCase() : undefined;
  if (text === "true" || text === "1" || text === "yes" || text === "on") return { value: true, source };
  if (text === "false" || text === "0" || text === "no" || text === "off") return { value: false, source };
  throw new CliError(`${source} must be true or false, got ${JSON.stringify(value)}`, EXIT.usage);
}
