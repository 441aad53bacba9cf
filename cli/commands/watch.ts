import type { Labels } from "../../index.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { formatLabels, toJson } from "../output.js";
import { pidLine } from "../pid-line.js";

/** `beamhub watch [--prefix P] [--json]`: registrations as they come and go, until Ctrl-C. */
export async function watch(
  config: CliConfig,
  options: { prefix?: string; labels?: Labels; json: boolean },
  out: (text: string) => void,
): Promise<number> {
  const hub = await connectToHub(config);
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  void hub.connection.closed.then(() => stop.abort());
  process.stderr.write(`${pidLine("watch")}\n`); // stdout is the events' (JSON with --json)
  try {
    for await (const event of hub.watch({
      prefix: options.prefix,
      labels: options.labels,
      signal: stop.signal,
    })) {
      const { service } = event;
      out(
        options.json
          ? toJson(event, false)
          : `${event.type.padEnd(7)} ${service.name} ${service.id} ${formatLabels(service.labels)}`,
      );
    }
    return 0;
  } finally {
    await hub.close();
  }
}
