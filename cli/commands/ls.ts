import type { ConnectedHub, Labels, SessionInfo } from "../../index.js";
import { describePeer, formatMs } from "../figures-format.js";
import { figuresFailure } from "./figures-failure.js";
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
  options: { prefix?: string; labels?: Labels; json: boolean; wide?: boolean },
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
    if (options.wide === true) {
      out(
        await wideListing(
          hub,
          config,
          deadline,
          { prefix: options.prefix, labels: options.labels },
          options.json,
        ),
      );
      return 0;
    }
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

/**
 * `ls --wide`: each instance with its session's transport, identity and peer, and its calls,
 * errors and p99. The figures need `hub.stats` access, the session details `hub.sessions`;
 * what is refused shows as `-`.
 */
async function wideListing(
  hub: ConnectedHub,
  config: CliConfig,
  deadline: CommandDeadline,
  filter: { prefix?: string; labels?: Labels },
  json: boolean,
): Promise<string> {
  const timeout = (): CliError =>
    new CliError(
      `the hub at ${config.hub.text} did not answer within --timeout ${deadline.timeoutMs} ms`,
      EXIT.failed,
    );
  const [instances, sessions] = await Promise.all([
    deadline.race(hub.instancesInfo(filter), timeout).catch((error: unknown) => {
      throw figuresFailure(error, "hub.stats", config);
    }),
    deadline.race(hub.sessionsInfo(), timeout).catch(() => [] as SessionInfo[]),
  ]);
  const byId = new Map(sessions.map((session) => [session.id, session]));
  if (json)
    return toJson(
      instances.map((instance) => ({ ...instance, session: byId.get(instance.sessionId) })),
      true,
    );
  if (instances.length === 0) return "no services registered";
  return table(
    ["NAME", "ID", "SESSION", "TRANSPORT", "IDENTITY", "PEER", "LABELS", "CALLS", "ERRORS", "P99"],
    instances.map((instance) => {
      const session = byId.get(instance.sessionId);
      return [
        instance.name,
        instance.id,
        instance.sessionId,
        instance.transport,
        instance.identity ?? "anonymous",
        session === undefined ? "-" : describePeer(session),
        formatLabels(instance.labels),
        String(instance.calls),
        String(instance.errors + instance.timeouts),
        formatMs(instance.p99Ms),
      ];
    }),
  );
}

/** `beamhub ls`: its options and usage. */
export const lsCommand: CommandSpec = {
  name: "ls",
  operands: [],
  summary: "list registered services",
  description:
    "Lists registered services as a table (or JSON). --wide adds each instance's session (transport, " +
    "identity, address or uid/pid) and its calls, errors and p99 latency (needs hub.stats access).",
  groups: [
    {
      title: "listing options",
      inline: true,
      options: {
        wide: {
          type: "boolean",
          help: "also each instance's transport, identity, peer, calls, errors and p99",
        },
      },
    },
    FILTER_OPTIONS,
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const labels = labelsOption("ls", input.list("label"));
    return ls(
      clientConfig(input),
      { prefix: input.string("prefix"), labels, json: input.flag("json"), wide: input.flag("wide") },
      io.out,
    );
  },
};
