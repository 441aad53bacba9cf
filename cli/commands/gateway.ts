import {
  connectTcp,
  exposeTcp,
  handoffEnvironment,
  type ConnectTcpOptions,
  type GatewayMode,
  type HubClient,
  type RemoteHub,
  type TcpConnector,
} from "../../index.js";
import { parseListen } from "../../internal.js";
import { FdError } from "../../fd/index.js";
import type { CliConfig } from "../config.js";
import { connectToHub, reportReconnection } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import { connectorStatus, exposureStatus, statusOnSignal } from "../gateway-status.js";
import { pidLine } from "../pid-line.js";

/**
 * Runs until SIGINT/SIGTERM (exit code 0) or until the client gives up reconnecting to the hub
 * (3, with a line saying why); lines on stderr tell when the hub goes and comes back. With
 * `mustReRegister`, a service the restarted hub does not take back (its rules changed) ends
 * it too (1): an exposure nobody can reach should not look alive to its supervisor.
 */
function untilStopped(
  hub: RemoteHub,
  config: CliConfig,
  log: (line: string) => void,
  mustReRegister = false,
): Promise<number> {
  return new Promise((resolve) => {
    const onSignal = (): void => finish(EXIT.ok);
    const finish = (code: number): void => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      resolve(code);
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    void reportReconnection(hub, config.hub.text, log).then(({ code, message }) => {
      if (message !== "") log(message);
      finish(code);
    });
    if (mustReRegister) {
      hub.addEventListener("reconnected", (event) => {
        if (event.failures.length > 0) finish(EXIT.failed);
      });
    }
  });
}

/** `beamhub expose <name> tcp://host:port`: serves a TCP endpoint as a hub service until Ctrl-C. */
export async function expose(
  config: CliConfig,
  options: { name: string | undefined; target: string | undefined },
  log: (line: string) => void,
): Promise<number> {
  if (options.name === undefined || options.target === undefined) {
    throw new CliError("usage: beamhub expose <name> tcp://host:port", EXIT.usage);
  }
  const hub = await connectToHub(config);
  try {
    const exposure = await exposeTcp(hub, options.name, options.target, { log });
    log(`exposing ${options.target} as service ${options.name} on ${config.hub.text}`);
    log(pidLine("expose"));
    const status = (): string => exposureStatus(options.name!, exposure);
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

/**
 * The mode of a connector from `--mode` (default auto), checked against the hub: a hand-off
 * needs a Unix socket hub, and over https "auto" would only spend a call finding out that no
 * descriptor can come, so it means relay there.
 */
export function gatewayMode(config: CliConfig, option: string | undefined): GatewayMode {
  const mode = (option ?? "auto") as GatewayMode;
  if (!["auto", "handoff", "relay"].includes(mode)) {
    throw new CliError(`--mode must be auto, handoff or relay, got ${JSON.stringify(option)}`, EXIT.usage);
  }
  if (mode === "handoff" && config.hub.kind !== "unix") {
    throw new CliError(
      `--mode handoff needs a Unix socket hub, and the hub is ${config.hub.text}: use --mode relay or auto`,
      EXIT.usage,
    );
  }
  return mode === "auto" && config.hub.kind !== "unix" ? "relay" : mode;
}

const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: "the port is in use (another program listens there): choose another one",
  EACCES: "permission denied (ports below 1024 need privileges)",
  EADDRNOTAVAIL: "no such address on this machine",
};

/**
 * `connectTcp`, with an address or hand-off socket that cannot be listened on turned into one
 * clear line (exit code 1, as serve's).
 */
export async function startConnector(
  hub: HubClient,
  name: string,
  options: ConnectTcpOptions,
): Promise<TcpConnector> {
  try {
    return await connectTcp(hub, name, options);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "";
    if (error instanceof FdError) {
      throw new CliError(
        `cannot listen on the hand-off socket ${options.handoffSocket}: ${error.message}`,
        EXIT.failed,
        { cause: error },
      );
    }
    const why = LISTEN_FAILURES[code];
    if (why === undefined) throw error;
    const at = parseListen(options.listen);
    throw new CliError(`cannot listen on ${at.host}:${at.port} for service ${name}: ${why}`, EXIT.failed, {
      cause: error,
    });
  }
}

/**
 * `beamhub connect <name> --listen host:port [--mode auto|handoff|relay] [--handoff-socket PATH]`:
 * a local port to a service, and optionally a hand-off socket for programs run with the library.
 */
export async function connect(
  config: CliConfig,
  options: {
    name: string | undefined;
    listen: string | undefined;
    mode: string | undefined;
    handoffSocket: string | undefined;
  },
  log: (line: string) => void,
): Promise<number> {
  if (options.name === undefined) {
    throw new CliError(
      "usage: beamhub connect <name> --listen host:port [--mode auto|handoff|relay]",
      EXIT.usage,
    );
  }
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
    const status = (): string => connectorStatus(options.name!, connector);
    const stopStatus = statusOnSignal(status, log);
    const code = await untilStopped(hub, config, log);
    stopStatus();
    await connector.close();
    log(status());
    return code;
  } finally {
    await hub.close();
  }
}
