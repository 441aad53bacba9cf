import type { Labels } from "../../index.js";
import { labelsOption } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CommandDeadline } from "../deadline.js";
import { CliError, EXIT } from "../errors.js";
import { FILTER_OPTIONS } from "../options/filter-options.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { formatLabels, table, toJson } from "../output.js";

/**
 * `beamhub ls [--prefix P] [--label k=v ...] [--json]`: the registered services. `--timeout`
 * bounds the whole command.
 */
export async function ls(
  config: CliConfig,
  options: { prefix?: string; labels?: Labels; json: boolean },
  out: (text: string) => void,
): Promise<number> {
  const deadline = new CommandDeadline(config.timeout);
  const hub = await connectToHub(config, deadline.connectTimeout());
  try {
    const services = await deadline.race(
      hub.list({ prefix: options.prefix, labels: options.labels }),
      () =>
        new CliError(
          `the hub at ${config.hub.text} did not list its services within --timeout ${deadline.timeoutMs} ms`,
          EXIT.failed,
        ),
    );
    if (options.json) out(toJson(services, true));
    else if (services.length === 0) out("no services registered");
    else {
      out(
        table(
          ["NAME", "ID", "SESSION", "LABELS"],
          services.map((service) => [
            service.name,
            service.id,
            service.sessionId,
            formatLabels(service.labels),
          ]),
        ),
      );
    }
    return 0;
  } finally {
    await hub.close();
  }
}

/** `beamhub ls`: its options and usage. */
export const lsCommand: CommandSpec = {
  name: "ls",
  operands: [],
  summary: "list registered services",
  description: "Lists registered services as a table (or JSON).",
  groups: [FILTER_OPTIONS, HUB_OPTIONS, HUB_TLS_OPTIONS],
  run: async (input, io) => {
    const labels = labelsOption("ls", input.list("label"));
    return ls(
      clientConfig(input),
      { prefix: input.string("prefix"), labels, json: input.flag("json") },
      io.out,
    );
  },
};
