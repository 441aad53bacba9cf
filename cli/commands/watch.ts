import type { Labels, RemoteWatchEvent } from "../../index.js";
import { labelsOption } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { follow } from "../follow.js";
import { FILTER_OPTIONS } from "../options/filter-options.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { formatLabels, toJson } from "../output.js";

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
  const spec = { command: "watch", endedByHub: "the hub ended the watch (it fell too far behind)" };
  return follow(config, spec, log, async (hub, signal) => {
    const events = hub.watch({ prefix: options.prefix, labels: options.labels, signal });
    for await (const event of events as AsyncIterable<RemoteWatchEvent>) {
      const { service } = event;
      out(
        options.json
          ? toJson(event, false)
          : `${event.type.padEnd(7)} ${service.name} ${service.id} ${formatLabels(service.labels)}${event.resync ? " (resync)" : ""}`,
      );
    }
  });
}

/** `beamhub watch`: its options and usage. */
export const watchCommand: CommandSpec = {
  name: "watch",
  operands: [],
  summary: "show registrations as they come and go",
  description:
    'Prints "added"/"removed" lines (or JSON lines) as services register and go, until Ctrl-C. Existing ' +
    "registrations come first. When the hub goes away it reconnects and goes on: what changed meanwhile " +
    'is printed then, marked "(resync)" (JSON: "resync": true) — after a hub restart every instance is ' +
    'new, so the old ones are "removed" and the new ones "added". An instance is never printed "added" ' +
    "twice. Exits with 3 if it gives up reconnecting.",
  groups: [FILTER_OPTIONS, HUB_OPTIONS, HUB_TLS_OPTIONS],
  run: async (input, io) => {
    const labels = labelsOption("watch", input.list("label"));
    return watch(
      clientConfig(input),
      { prefix: input.string("prefix"), labels, json: input.flag("json") },
      io.out,
      io.err,
    );
  },
};
