import type { Labels } from "../../index.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { formatLabels, table, toJson } from "../output.js";

/** `beamhub ls [--prefix P] [--label k=v ...] [--json]`: the registered services. */
export async function ls(
  config: CliConfig,
  options: { prefix?: string; labels?: Labels; json: boolean },
  out: (text: string) => void,
): Promise<number> {
  const hub = await connectToHub(config);
  try {
    const services = await hub.list({ prefix: options.prefix, labels: options.labels });
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
