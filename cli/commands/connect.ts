import { handoffEnvironment } from "../../index.js";
import { listenArgument, serviceNameArgument } from "../arguments.js";
import { clientConfig } from "../client-config.js";
import type { CommandSpec } from "../command-spec.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import { connectorStatus, statusOnSignal } from "../gateway-status.js";
import { HUB_OPTIONS, HUB_TLS_OPTIONS } from "../options/hub-options.js";
import { pidLine } from "../pid-line.js";
import { warnUntilRegistered } from "../service-presence.js";
import { gatewayMode, MODE_OPTION, startConnector, untilStopped } from "./gateway.js";

/**
 * `beamhub connect <name> --listen host:port [--mode auto|handoff|relay] [--handoff-socket PATH]`:
 * a local port to a service, and optionally a hand-off socket for programs run with the library.
 */
export async function connect(
  config: CliConfig,
  options: {
    name: string;
    listen: string | undefined;
    mode: string | undefined;
    handoffSocket: string | undefined;
  },
  log: (line: string) => void,
): Promise<number> {
  const mode = gatewayMode(config, options.mode);
  if (options.handoffSocket !== undefined && mode === "relay") {
    throw new CliError(
      `--handoff-socket hands sockets over, which needs a Unix socket hub and mode auto or handoff (the hub is ${config.hub.text}, mode ${mode})`,
      EXIT.usage,
    );
  }
  const hub = await connectToHub(config);
  try {
    const connector = await startConnector(hub, options.name, {
      listen: options.listen,
      mode,
      log,
      handoffSocket: options.handoffSocket,
    });
    log(
      `listening on ${connector.address.host}:${connector.address.port} -> service ${options.name} (${mode})`,
    );
    log(pidLine("connect"));
    if (connector.handoff !== undefined) {
      let hint: string;
      try {
        const env = handoffEnvironment(connector.handoff.routes, {});
        hint = `programs run with LD_PRELOAD=${env.LD_PRELOAD} BEAMHUB_HANDOFF='${env.BEAMHUB_HANDOFF}' get the upstream's socket itself`;
      } catch (error) {
        hint = `${(error as Error).message}: programs connect through the port`;
      }
      log(`hand-off socket ${connector.handoff.path}: ${hint}`);
    }
    const stopWaiting = await warnUntilRegistered(hub, options.name, config.hub.text, log);
    const status = (): string => connectorStatus(options.name, connector);
    const stopStatus = statusOnSignal(status, log);
    const code = await untilStopped(hub, config, log);
    stopWaiting();
    stopStatus();
    await connector.close();
    log(status());
    return code;
  } finally {
    await hub.close();
  }
}

/** `beamhub connect`: its arguments, options and usage. */
export const connectCommand: CommandSpec = {
  name: "connect",
  operands: [{ name: "<name>" }],
  summary: "a local TCP port that reaches a service",
  description:
    "Listens on host:port (loopback by default); each accepted connection reaches the endpoint behind " +
    "service <name>. A service not registered yet is warned about on stderr and waited for.\n" +
    "With handoff, this process still copies the bytes between the two sockets (in native threads), " +
    "because an ordinary client cannot take a descriptor. --handoff-socket PATH removes that copy for " +
    "programs started with the hand-off library: it prints the LD_PRELOAD and BEAMHUB_HANDOFF values to " +
    "start them with (or use beamhub run, which does it for you).\n" +
    "While the hub is away, new connections wait for it (up to 15 s each) and connections already " +
    "relayed through it end; it reconnects and exits with 3 only if it gives up reconnecting. " +
    "kill -USR2 <pid> prints a status line (connections accepted, handed over, relayed, failed, open), " +
    "which is printed again when it stops.",
  groups: [
    {
      title: "connect options",
      inline: true,
      options: {
        listen: {
          type: "string",
          value: "host:port",
          help: "where to listen: HOST:PORT, or PORT on 127.0.0.1; port 0: any free port",
          defaultText: "127.0.0.1:0",
        },
        ...MODE_OPTION,
        "handoff-socket": {
          type: "string",
          value: "PATH",
          help: "also a hand-off socket for programs run with the hand-off library (see above)",
        },
      },
    },
    HUB_OPTIONS,
    HUB_TLS_OPTIONS,
  ],
  run: async (input, io) => {
    const name = serviceNameArgument("connect", input.operands[0]!);
    const listen = input.string("listen");
    listenArgument("connect", listen, "--listen");
    return connect(
      clientConfig(input),
      { name, listen, mode: input.string("mode"), handoffSocket: input.string("handoff-socket") },
      io.err,
    );
  },
};
