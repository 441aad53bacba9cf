import type { CliIo } from "./cli-io.js";
import type { CliConfig } from "./config.js";
import type { OptionGroup } from "./options/option-spec.js";

/** A positional argument of a command, as usage names it (`<service>`, `[json|-]`). */
export interface Operand {
  readonly name: string;
  readonly optional?: boolean;
}

/** Options as node:util's parseArgs returns them, by name. */
export type OptionValues = Readonly<Record<string, string | boolean | (string | boolean)[] | undefined>>;

/** A parsed command line, handed to the command that declared its options. */
export interface CommandInput {
  /** A string option's value (the last one given), or undefined. */
  string(name: string): string | undefined;
  /** Whether a boolean option was given. */
  flag(name: string): boolean;
  /** Every value of a repeatable option, in order. */
  list(name: string): string[];
  /** Every option given, by name, as parseArgs returns them. */
  readonly values: OptionValues;
  /** The positional arguments, checked against the command's operands. */
  readonly operands: readonly string[];
  /** For a command with `passThrough`: the words after `--`. */
  readonly passThrough: readonly string[];
  /**
   * The configuration from the flags, `BEAMHUB_*` variables and the config file, read on first
   * use: a command checks its own arguments first, so a usage error never waits for a config
   * file or creates the default socket's directory.
   */
  config(): CliConfig;
}

/**
 * One `beamhub` command: its arguments and options, declared once for parsing and for usage,
 * and what it does.
 */
export interface CommandSpec {
  readonly name: string;
  readonly operands: readonly Operand[];
  /** After `--`, the words of a program the command runs: usage names them this way. */
  readonly passThrough?: string;
  /** One line for `beamhub --help`. */
  readonly summary: string;
  /** Paragraphs after the usage line (a blank line between paragraphs). */
  readonly description: string;
  /** Its options, own groups first; usage lists them in this order. */
  readonly groups: readonly OptionGroup[];
  /** Prose after the options (serve's config file). */
  readonly epilogue?: string;
  /** Other commands' flags refused with what this command takes instead (see serve). */
  readonly instead?: Readonly<Record<string, string>>;
  /** Runs it; resolves with the exit code. Usage mistakes throw a `CliError` with `EXIT.usage`. */
  run(input: CommandInput, io: CliIo): Promise<number>;
}
