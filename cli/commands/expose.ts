import { exposeTcp } from "../../index.js";
import { serviceNameArgument, targetArgument } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { exposureStatus, statusOnSignal } from "../gateway-status.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { pidLine } from "../pid-line.js";
import { untilStopped } from "./gateway.js";

/** `beamhub expose <name> tcp://host:port`: serves a TCP endpoint as a hub service until Ctrl-C. */
export async function expose(
  config: CliConfig,
  options: { name: string; target: string },
  log: (line: string) => void,
): Promise<number> {
  const hub = await connectToHub(config);
  try {
    const exposure = await exposeTcp(hub, options.name, options.target, { log });
    log(`exposing ${options.target} as service ${options.name} on ${config.hub.text}`);
    log(pidLine("expose"));
    const status = (): string => exposureStatus(options.name, exposure);
    const stopStatus = statusOnSignal(status, log);
    const code = await untilStopped(hub, config, log, true);
    stopStatus();
    await exposure.close();
    log(status());
    return code;
  } finally {
    await hub.close();
  }
}

/** `beamhub expose`: its arguments and usage. */
export const exposeCommand: CommandSpec = {
  name: "expose",
  operands: [{ name: "<name>" }, { name: "tcp://host:port" }],
  summary: "serve a TCP endpoint as a hub service",
  description:
    "Registers <name>; every connection made through it (beamhub connect) opens a TCP connection to " +
    "host:port. Runs until Ctrl-C. When the hub goes away it reconnects and registers <name> again " +
    "(stderr says so, with the new instance id); it exits with 3 if it gives up reconnecting, with 1 if " +
    "the hub refuses the registration after reconnecting. kill -USR2 <pid> prints a status line " +
    "(connections handed over, relayed, failed, open), which is printed again when it stops.",
  groups: [HUB_OPTIONS, HUB_TLS_OPTIONS],
  run: async (input, io) => {
    const [name, target] = input.operands as [string, string];
    serviceNameArgument("expose", name);
    targetArgument("expose", target);
    return expose(clientConfig(input), { name, target }, io.err);
  },
};
