import type { InstanceInfo, SessionInfo } from "../../index.js";
import { serviceNameArgument } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CommandDeadline } from "../deadline.js";
import { CliError, EXIT } from "../errors.js";
import { describeIdentity, describePeer, formatAge, formatMs } from "../figures-format.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { formatLabels, table, toJson } from "../output.js";
import { figuresFailure } from "./figures-failure.js";

/**
 * `beamhub info <service> [--json]`: the instances of one service with their session (transport,
 * identity, peer), labels, calls served, errors and latency percentiles. Exit 4 when nobody
 * serves it. The session details need `hub.sessions` access; without it they are left out.
 */
export async function info(
  config: CliConfig,
  options: { service: string; json: boolean },
  out: (text: string) => void,
): Promise<number> {
  const deadline = new CommandDeadline(config.timeout);
  const hub = await connectToHub(config, deadline.connectTimeout());
  try {
    const timeout = (): CliError =>
      new CliError(
        `the hub at ${config.hub.text} did not answer within --timeout ${deadline.timeoutMs} ms`,
        EXIT.failed,
      );
    const instances = await deadline
      .race(hub.instancesInfo({ name: options.service }), timeout)
      .catch((error: unknown) => {
        throw figuresFailure(error, "hub.stats", config);
      });
    if (instances.length === 0) {
      throw new CliError(`no instance serves ${options.service}`, EXIT.notFound);
    }
    // Optional: the session details need more access than the figures.
    const sessions = await deadline.race(hub.sessionsInfo(), timeout).catch(() => [] as SessionInfo[]);
    const byId = new Map(sessions.map((session) => [session.id, session]));
    if (options.json) {
      out(
        toJson(
          instances.map((instance) => ({ ...instance, session: byId.get(instance.sessionId) })),
          true,
        ),
      );
      return 0;
    }
    out(describeService(options.service, instances, byId));
    return 0;
  } finally {
    await hub.close();
  }
}

/** The text of `info`: a summary line, then one row per instance. */
export function describeService(
  name: string,
  instances: readonly InstanceInfo[],
  sessions: ReadonlyMap<string, SessionInfo>,
): string {
  const calls = instances.reduce((total, instance) => total + instance.calls, 0);
  const errors = instances.reduce((total, instance) => total + instance.errors + instance.timeouts, 0);
  const now = Date.now();
  const rows = instances.map((instance) => {
    const session = sessions.get(instance.sessionId);
    return [
      instance.id,
      instance.sessionId,
      instance.transport,
      instance.identity ?? (session === undefined ? "-" : describeIdentity(session)),
      session === undefined ? "-" : describePeer(session),
      formatLabels(instance.labels),
      formatAge(instance.registeredAt, now),
      String(instance.calls),
      String(instance.errors + instance.timeouts),
      String(instance.inFlight),
      formatMs(instance.p50Ms),
      formatMs(instance.p99Ms),
    ];
  });
  return [
    `${name}: ${instances.length} instance${instances.length === 1 ? "" : "s"}, ${calls} calls, ${errors} errors`,
    table(
      [
        "INSTANCE",
        "SESSION",
        "TRANSPORT",
        "IDENTITY",
        "PEER",
        "LABELS",
        "AGE",
        "CALLS",
        "ERRORS",
        "INFLIGHT",
        "P50",
        "P99",
      ],
      rows,
    ),
  ].join("\n");
}

/** `beamhub info`: its arguments, options and usage. */
export const infoCommand: CommandSpec = {
  name: "info",
  operands: [{ name: "<service>" }],
  summary: "show a service's instances: session, labels, calls, errors, p50/p99",
  description:
    "Shows the instances of <service>: the session that registered each (transport, identity, address or " +
    "uid/pid), its labels and age, calls served, errors (failures and timeouts), calls in flight and latency " +
    "percentiles estimated from the hub's histogram. Needs hub.stats access (and hub.sessions for the " +
    "session details). Exit 4 when no instance serves it.",
  groups: [
    {
      title: "output options",
      inline: true,
      options: { json: { type: "boolean", help: "JSON for scripts" } },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) =>
    info(
      clientConfig(input),
      { service: serviceNameArgument("info", input.operands[0]!), json: input.flag("json") },
      io.out,
    ),
};
