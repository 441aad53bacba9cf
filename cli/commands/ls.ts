import type { Labels } from "../../index.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CommandDeadline } from "../deadline.js";
import { CliError, EXIT } from "../errors.js";
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
