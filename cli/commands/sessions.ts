import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CommandDeadline } from "../deadline.js";
import { CliError, EXIT } from "../errors.js";
import { describeIdentity, describePeer, formatAge, formatBytes } from "../figures-format.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { table, toJson } from "../output.js";
import { figuresFailure } from "./figures-failure.js";

/**
 * `beamhub sessions [--json]`: every session of the hub — transport, identity, address or Unix
 * uid/pid, age, services, calls in flight, traffic. The access rules must let this client call
 * `hub.sessions`.
 */
export async function sessions(
  config: CliConfig,
  options: { json: boolean },
  out: (text: string) => void,
): Promise<number> {
  const deadline = new CommandDeadline(config.timeout);
  const hub = await connectToHub(config, deadline.connectTimeout());
  try {
    const found = await deadline
      .race(
        hub.sessionsInfo(),
        () =>
          new CliError(
            `the hub at ${config.hub.text} did not list its sessions within --timeout ${deadline.timeoutMs} ms`,
            EXIT.failed,
          ),
      )
      .catch((error: unknown) => {
        throw figuresFailure(error, "hub.sessions", config);
      });
    if (options.json) {
      out(toJson(found, true));
      return 0;
    }
    const now = Date.now();
    out(
      table(
        ["SESSION", "TRANSPORT", "IDENTITY", "PEER", "AGE", "SERVICES", "CALLS", "IN", "OUT", "STREAMS"],
        found.map((session) => [
          session.id,
          session.transport,
          describeIdentity(session),
          describePeer(session),
          formatAge(session.connectedAt, now),
          String(session.services),
          String(session.callsInFlight + session.servingInFlight),
          session.traffic === undefined ? "-" : formatBytes(session.traffic.bytesIn),
          session.traffic === undefined ? "-" : formatBytes(session.traffic.bytesOut),
          session.traffic === undefined ? "-" : String(session.traffic.streams),
        ]),
      ),
    );
    return 0;
  } finally {
    await hub.close();
  }
}

/** `beamhub sessions`: its options and usage. */
export const sessionsCommand: CommandSpec = {
  name: "sessions",
  operands: [],
  summary: "list the hub's sessions: transport, identity, address or uid/pid, traffic",
  description:
    "Lists every session of the hub: its transport (local, memory, unix, http2, websocket), identity, " +
    "address (https peers) or uid and pid (Unix peers), age, registered services, calls in flight " +
    "(made and served) and bytes in and out. The hub's access rules must let you call hub.sessions.",
  groups: [
    {
      title: "output options",
      inline: true,
      options: { json: { type: "boolean", help: "JSON for scripts" } },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => sessions(clientConfig(input), { json: input.flag("json") }, io.out),
};
