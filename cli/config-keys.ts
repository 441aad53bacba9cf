import { closest } from "./did-you-mean.js";
import { CliError, EXIT } from "./errors.js";
import type { OptionGroup } from "./options/option-spec.js";

/** Keys only the config file can hold: structured data no flag carries. */
const FILE_ONLY_KEYS = ["access", "apps", "taskLimits"];

/**
 * The keys a config file may hold: every setting of every command (one file serves them all:
 * `serve` reads its listener's keys, the clients the hub's), plus the file-only `access`. A
 * misspelt key would otherwise be silently ignored, and a hub would run without what the
 * operator thought they had configured.
 */
export class ConfigKeys {
  readonly #settings = new Set<string>(FILE_ONLY_KEYS);
  /** Options that exist only as flags, to say so rather than "unknown". */
  readonly #flagsOnly = new Set<string>();

  constructor(groups: Iterable<OptionGroup>) {
    for (const group of groups) {
      for (const [name, option] of Object.entries(group.options)) {
        if (option.setting === true) this.#settings.add(name);
        else this.#flagsOnly.add(name);
      }
    }
    for (const name of this.#settings) this.#flagsOnly.delete(name);
  }

  /**
   * @throws {CliError} (exit 2) naming the first key that is no setting, and the one it was
   *   most likely meant to be.
   */
  check(file: Readonly<Record<string, unknown>>, fileName: string): void {
    for (const key of Object.keys(file)) {
      if (this.#settings.has(key)) continue;
      if (this.#flagsOnly.has(key)) {
        throw new CliError(
          `config file ${fileName}: key ${JSON.stringify(key)} is a command-line option only (--${key}), not a setting`,
          EXIT.usage,
        );
      }
      const match = closest(key, this.#settings);
      throw new CliError(
        `config file ${fileName}: unknown key ${JSON.stringify(key)}` +
          (match === undefined ? "" : ` (did you mean ${JSON.stringify(match)}?)`),
        EXIT.usage,
      );
    }
  }
}
