import { parseArgs, type ParseArgsConfig } from "node:util";
import type { CommandSpec, OptionValues } from "./command-spec.js";
import { didYouMean } from "./did-you-mean.js";
import { UsageError } from "./errors.js";
import { optionLabel, type OptionSpec } from "./options/option-spec.js";
import { operandText, optionsOf } from "./usage.js";

/** What a command line says, checked against its command's declaration. */
export interface ParsedCommandLine {
  /** `--help` (or `-h`) was given: print usage, run nothing. */
  readonly help: boolean;
  readonly values: OptionValues;
  readonly operands: readonly string[];
  readonly passThrough: readonly string[];
}

type Token = NonNullable<ReturnType<typeof parseArgs>["tokens"]>[number];

/**
 * Parses `args` (what follows the command's name) with node:util's `parseArgs`, strictly, with
 * the command's own options. Every mistake is a {@link UsageError} that says what was meant:
 * an unknown flag names the closest flag of this command, or the commands it belongs to (or,
 * per `spec.instead`, what this command takes in its place); a missing value, a value for a
 * yes/no flag, a missing or an extra argument are named as such.
 */
export function parseCommandLine(
  spec: CommandSpec,
  args: readonly string[],
  commands: readonly CommandSpec[],
): ParsedCommandLine {
  const options = optionsOf(spec);
  let words = [...args];
  let passThrough: string[] = [];
  const dashes = args.indexOf("--");
  if (spec.passThrough !== undefined && dashes >= 0) {
    words = args.slice(0, dashes);
    passThrough = args.slice(dashes + 1);
  }
  const config: ParseArgsConfig["options"] = Object.fromEntries(
    [...options].map(([name, option]) => [
      name,
      {
        type: option.type,
        multiple: option.multiple === true,
        ...(option.short === undefined ? {} : { short: option.short }),
      },
    ]),
  );
  // A loose pass first: its tokens tell exactly which word went wrong, where the strict pass
  // would only give Node's generic sentence.
  const loose = parseArgs({
    args: words,
    options: config,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  for (const token of loose.tokens) {
    if (token.kind === "option") checkOption(spec, token, options, commands);
  }
  if (loose.values.help === true) return { help: true, values: {}, operands: [], passThrough: [] };
  let parsed;
  try {
    parsed = parseArgs({ args: words, options: config, strict: true, allowPositionals: true });
  } catch (error) {
    // Not expected after the checks above; still a usage error, not a crash.
    throw new UsageError((error as Error).message, spec.name, { cause: error });
  }
  checkOperands(spec, parsed.positionals);
  return { help: false, values: parsed.values, operands: parsed.positionals, passThrough };
}

function checkOption(
  spec: CommandSpec,
  token: Extract<Token, { kind: "option" }>,
  options: ReadonlyMap<string, OptionSpec>,
  commands: readonly CommandSpec[],
): void {
  const option = options.get(token.name);
  if (option === undefined) throw unknownOption(spec, token, options, commands);
  const { rawName, value, inlineValue } = token;
  if (option.type === "boolean" && value !== undefined) {
    throw new UsageError(`${rawName} takes no value (got ${JSON.stringify(value)})`, spec.name);
  }
  if (option.type === "string") {
    if (value === undefined) {
      throw new UsageError(`${rawName} needs a value: ${optionLabel(token.name, option)}`, spec.name);
    }
    if (inlineValue === false && value.startsWith("-")) {
      throw new UsageError(
        `${rawName} needs a value, and ${value} looks like an option; if it is the value, write ${rawName}=${value}`,
        spec.name,
      );
    }
  }
}

function unknownOption(
  spec: CommandSpec,
  token: Extract<Token, { kind: "option" }>,
  options: ReadonlyMap<string, OptionSpec>,
  commands: readonly CommandSpec[],
): UsageError {
  const { name, rawName } = token;
  const instead = spec.instead?.[name];
  if (instead !== undefined) {
    return new UsageError(`${rawName} is a client option; ${spec.name} takes ${instead}`, spec.name);
  }
  if (!rawName.startsWith("--")) {
    const dashed = /^-\d/.test(rawName)
      ? ` (an argument starting with -, like ${rawName}, goes after --: beamhub ${spec.name} ... -- ${rawName})`
      : "";
    return new UsageError(`unknown option ${rawName}${dashed}`, spec.name);
  }
  const owners = commands.filter((command) => command !== spec && optionsOf(command).has(name));
  if (owners.length > 0) {
    const names = owners.map((command) => command.name).join(", ");
    return new UsageError(`${rawName} applies only to beamhub ${names}`, spec.name);
  }
  const long = [...options.keys()];
  return new UsageError(
    `unknown option ${rawName} for beamhub ${spec.name}${didYouMean(name, long, (match) => `--${match}`)}`,
    spec.name,
  );
}

function checkOperands(spec: CommandSpec, positionals: readonly string[]): void {
  const missing = spec.operands.slice(positionals.length).find((operand) => operand.optional !== true);
  if (missing !== undefined) throw new UsageError(`missing ${missing.name}`, spec.name);
  const extra = positionals.slice(spec.operands.length);
  if (extra.length === 0) return;
  const words = extra.map((word) => JSON.stringify(word)).join(" ");
  const hint =
    spec.passThrough !== undefined
      ? ` (put the command after --: beamhub ${spec.name} ... -- ${extra.join(" ")})`
      : spec.operands.length === 0
        ? ` (beamhub ${spec.name} takes no arguments)`
        : ` (beamhub ${spec.name} takes ${spec.operands.map(operandText).join(" ")})`;
  throw new UsageError(`unexpected argument${extra.length === 1 ? "" : "s"} ${words}${hint}`, spec.name);
}
