import type { Labels, RemoteWatchEvent } from "../../index.js";
import type { CliConfig } from "../config.js";
import { connectToHub, reportReconnection } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import { formatLabels, toJson } from "../output.js";
import { pidLine } from "../pid-line.js";

/**
 * `beamhub watch [--prefix P] [--json]`: registrations as they come and go, until Ctrl-C.
 * When the hub goes away it reconnects and goes on: what changed meanwhile is printed then
 * (marked `resync`), never an instance twice. It exits non-zero only when it gives up.
 */
export async function watch(
  config: CliConfig,
  options: { prefix?: string; labels?: Labels; json: boolean },
  out: (text: string) => void,
  log: (text: string) => void,
): Promise<number> {
  const hub = await connectToHub(config);
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const gaveUp = reportReconnection(hub, config.hub.text, log);
  process.stderr.write(`${pidLine("watch")}\n`); // stdout is the events' (JSON with --json)
  try {
    const events = hub.watch({ prefix: options.prefix, labels: options.labels, signal: stop.signal });
    try {
      for await (const event of events as AsyncIterable<RemoteWatchEvent>) {
        const { service } = event;
        out(
          options.json
            ? toJson(event, false)
            : `${event.type.padEnd(7)} ${service.name} ${service.id} ${formatLabels(service.labels)}${event.resync ? " (resync)" : ""}`,
        );
      }
    } catch (error) {
      if (hub.state !== "closed") throw error;
    }
    if (stop.signal.aborted) return 0;
    if (hub.state !== "closed") {
      throw new CliError("the hub ended the watch (it fell too far behind)", EXIT.failed);
    }
    // The client gave up (or lost the hub with reconnection off).
    const { code, message } = await gaveUp;
    if (code !== 0) throw new CliError(message.replace(/^beamhub: /, ""), code);
    return 0;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    await hub.close();
  }
}
