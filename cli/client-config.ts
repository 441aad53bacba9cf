import type { CommandInput } from "./command-spec.js";
import type { CliConfig } from "./config.js";
import { CliError, EXIT } from "./errors.js";
import { HUB_TLS_FLAGS } from "./options/hub-options.js";

/**
 * The configuration of a client command. TLS flags with a Unix hub are almost always a
 * forgotten `--hub https://...`, and would be silently ignored: they are refused, saying so.
 */
export function clientConfig(input: CommandInput): CliConfig {
  const config = input.config();
  if (config.hub.kind !== "unix") return config;
  const given = HUB_TLS_FLAGS.filter((flag) => input.values[flag] !== undefined);
  if (given.length > 0) {
    throw new CliError(
      `${given.map((flag) => `--${flag}`).join(", ")} ${given.length === 1 ? "applies" : "apply"} only to an https:// hub, and the hub is ${config.hub.text}: ` +
        "add --hub https://host:port",
      EXIT.usage,
    );
  }
  return config;
}
