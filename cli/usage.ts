import type { CommandSpec, Operand } from "./command-spec.js";
import { envName, optionLabel, type OptionGroup, type OptionSpec } from "./options/option-spec.js";

/** Usage is wrapped to this many columns. */
const WIDTH = 100;
/** Where an option's help starts; a longer flag puts its help on the next line. */
const HELP_COLUMN = 26;

/** `-h, --help`, which every command takes: parsed and listed like any other option. */
export const HELP_GROUP: OptionGroup = {
  title: "help",
  options: { help: { type: "boolean", short: "h", help: "print this help and exit" } },
};

/** Every option group of a command, `--help` included. */
export function groupsOf(spec: CommandSpec): readonly OptionGroup[] {
  return [...spec.groups, HELP_GROUP];
}

/** Every option of a command by name. */
export function optionsOf(spec: CommandSpec): ReadonlyMap<string, OptionSpec> {
  return new Map(groupsOf(spec).flatMap((group) => Object.entries(group.options)));
}

/** How usage writes an operand: `<service>`, or `[json|-]` when it may be left out. */
export function operandText(operand: Operand): string {
  return operand.optional === true ? `[${operand.name}]` : operand.name;
}

/** The command's one-line form: `usage: beamhub call <service> [json|-] [--events] ... [hub options]`. */
export function synopsis(spec: CommandSpec): string {
  const parts = [`beamhub ${spec.name}`, ...spec.operands.map(operandText)];
  for (const group of spec.groups) {
    if (group.inline !== true) {
      parts.push(`[${group.title}]`);
      continue;
    }
    for (const [name, option] of Object.entries(group.options)) {
      parts.push(`[${optionLabel(name, option)}${option.multiple === true ? " ..." : ""}]`);
    }
  }
  if (spec.passThrough !== undefined) parts.push(`-- ${spec.passThrough}`);
  // Wrapped between parts, never inside `[hub options]`.
  const lines = ["usage:"];
  for (const part of parts) {
    const last = lines.length - 1;
    if (lines[last]!.length + 1 + part.length > WIDTH) lines.push(`       ${part}`);
    else lines[last] = `${lines[last]} ${part}`;
  }
  return lines.join("\n");
}

/** The whole of `beamhub <command> --help`, derived from the command's declaration. */
export function commandUsage(spec: CommandSpec): string {
  const lines = [synopsis(spec), wrapParagraphs(spec.description)];
  for (const group of groupsOf(spec)) {
    lines.push("", group.about === undefined ? `${group.title}:` : `${group.title} (${group.about}):`);
    for (const [name, option] of Object.entries(group.options)) lines.push(optionUsage(name, option));
    if (group.note !== undefined) lines.push(wrapParagraphs(group.note));
  }
  if (spec.epilogue !== undefined) lines.push("", spec.epilogue);
  return lines.join("\n");
}

/** One option's lines: its label, then its help with the variable and the default. */
function optionUsage(name: string, option: OptionSpec): string {
  const label = `  ${optionLabel(name, option)}${option.multiple === true ? " (repeatable)" : ""}`;
  const extras = [
    ...(option.setting === true || option.env === true ? [`env ${envName(name)}`] : []),
    ...(option.defaultText === undefined ? [] : [`default ${option.defaultText}`]),
  ];
  const help = extras.length === 0 ? option.help : `${option.help} (${extras.join("; ")})`;
  const indent = " ".repeat(HELP_COLUMN);
  const body = wrap(help, WIDTH, indent, HELP_COLUMN);
  if (label.length < HELP_COLUMN - 1) return `${label.padEnd(HELP_COLUMN)}${body}`;
  return `${label}\n${indent}${body}`;
}

/** Each line of `text` wrapped to the usage width; lines that fit keep their spacing. */
function wrapParagraphs(text: string): string {
  return text
    .split("\n")
    .map((line) => (line.length <= WIDTH ? line : wrap(line, WIDTH, "")))
    .join("\n");
}

/**
 * Words of `text` in lines of at most `width` columns, the lines after the first indented by
 * `indent`; the first starts at column `start`. A word longer than a line keeps its own line.
 */
export function wrap(text: string, width: number, indent: string, start = 0): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/ +/)) {
    const room = width - (lines.length === 0 ? start : indent.length);
    if (line !== "" && line.length + 1 + word.length > room) {
      lines.push(line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines.map((text, index) => (index === 0 ? text : `${indent}${text}`)).join("\n");
}
