#!/usr/bin/env node
/**
 * The `beamhub` command. Every command declares its own options (commands/); this finds the
 * command, parses its line strictly against them and runs it. Failures print one line saying
 * what went wrong and what to try, and exit with a code from `EXIT` (see `beamhub --help`).
 */
import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { VERSION } from "../index.js";
import { processIo, type CliIo } from "./cli-io.js";
import type { CommandInput, CommandSpec } from "./command-spec.js";
import { COMMANDS } from "./commands/index.js";
import { ConfigKeys } from "./config-keys.js";
import { loadConfig, type CliConfig, type ConfigFlags } from "./config.js";
import { didYouMean } from "./did-you-mean.js";
import { CliError, EXIT, UsageError } from "./errors.js";
import { mainUsage } from "./help.js";
import { parseCommandLine, type ParsedCommandLine } from "./parse-command.js";
import { commandUsage, synopsis } from "./usage.js";

/** The keys a config file may hold: every command's settings. */
const CONFIG_KEYS = new ConfigKeys(COMMANDS.flatMap((command) => command.groups));

/** The flags `loadConfig` reads, where a command declares them. */
const CONFIG_FLAGS = [
  "hub",
  "socket",
  "timeout",
  "config",
  "ca",
  "cert",
  "key",
  "token",
  "transport",
  "cert-dir",
  "reconnect-attempts",
  "give-up-after",
] as const satisfies readonly (keyof ConfigFlags)[];

/**
 * Runs `beamhub <argv>` and resolves with its exit code. Output goes to `io` (the process's
 * streams by default), so tests can run it without a process of its own.
 */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined) {
    io.err(mainUsage(COMMANDS));
    return EXIT.usage;
  }
  if (first === "--version" || first === "-v") {
    io.out(VERSION);
    return EXIT.ok;
  }
  if (first === "--help" || first === "-h") {
    io.out(mainUsage(COMMANDS));
    return EXIT.ok;
  }
  try {
    if (first === "help") return help(rest, io);
    const spec = findCommand(first, argv);
    const parsed = parseCommandLine(spec, rest, COMMANDS);
    if (parsed.help) {
      io.out(commandUsage(spec));
      return EXIT.ok;
    }
    return await spec.run(commandInput(parsed, io), io);
  } catch (error) {
    return report(error, io);
  }
}

/** `beamhub help [command]`. */
function help(args: readonly string[], io: CliIo): number {
  if (args.length === 0) {
    io.out(mainUsage(COMMANDS));
    return EXIT.ok;
  }
  if (args.length > 1) {
    throw new UsageError(`beamhub help takes one command, got ${args.length} words`, undefined);
  }
  io.out(commandUsage(findCommand(args[0]!, args)));
  return EXIT.ok;
}

function findCommand(name: string, argv: readonly string[]): CommandSpec {
  const spec = COMMANDS.find((command) => command.name === name);
  if (spec !== undefined) return spec;
  const names = COMMANDS.map((command) => command.name);
  if (name.startsWith("-")) {
    // Options before the command: say where they go, with the command if one follows.
    const command = argv.find((word) => names.includes(word));
    throw new UsageError(
      `options come after the command: ${command === undefined ? "beamhub <command> [options]" : `beamhub ${command} ... ${name}`} (commands: ${names.join(", ")})`,
      undefined,
    );
  }
  throw new UsageError(
    `unknown command ${JSON.stringify(name)}${didYouMean(name, names)}; the commands are ${names.join(", ")} (beamhub --help)`,
    undefined,
  );
}

function commandInput(parsed: ParsedCommandLine, io: CliIo): CommandInput {
  const { values } = parsed;
  let config: CliConfig | undefined;
  return {
    values,
    operands: parsed.operands,
    passThrough: parsed.passThrough,
    string: (name) => {
      const value = values[name];
      return typeof value === "string" ? value : undefined;
    },
    flag: (name) => values[name] === true,
    list: (name) => {
      const value = values[name];
      const all = Array.isArray(value) ? value : [value];
      return all.filter((item): item is string => typeof item === "string");
    },
    config: () => {
      const flags: ConfigFlags = {};
      for (const name of CONFIG_FLAGS) {
        const value = values[name];
        if (typeof value === "string") flags[name] = value;
      }
      config ??= loadConfig(flags, { env: io.env, keys: CONFIG_KEYS });
      return config;
    },
  };
}

/** The line (and for a usage mistake, the command's usage line) a failure prints; its exit code. */
function report(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    const spec = COMMANDS.find((command) => command.name === error.command);
    io.err(`beamhub: ${error.message}`);
    if (spec !== undefined) io.err(`${synopsis(spec)}\n(beamhub help ${spec.name}: every option)`);
    return error.exitCode;
  }
  if (error instanceof CliError) {
    io.err(`beamhub: ${error.message}`);
    return error.exitCode;
  }
  io.err(`beamhub: ${(error as Error)?.message ?? String(error)}`);
  return EXIT.failed;
}

/** Whether this module is the program node was started with (and not imported, by a test). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    // Through npx or a global install, argv[1] is a symbolic link to this file.
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntry()) process.exitCode = await main(process.argv.slice(2));
