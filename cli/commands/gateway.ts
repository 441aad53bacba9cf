import {
  connectTcp,
  type ConnectTcpOptions,
  type GatewayMode,
  type HubClient,
  type ConnectedHub,
  type TcpConnector,
} from "../../index.js";
import { parseListen } from "../../internal.js";
import { FdError } from "../../index.js";
import type { CliConfig } from "../config.js";
import { reportReconnection } from "../connect.js";
import { CliError, EXIT } from "../errors.js";
import type { OptionSpec } from "../options/option-spec.js";

/**
 * Runs until SIGINT/SIGTERM (exit code 0) or until the client gives up reconnecting to the hub
 * (3, with a line saying why); lines on stderr tell when the hub goes and comes back. With
 * `mustReRegister`, a service the restarted hub does not take back (its rules changed) ends
 * it too (1): an exposure nobody can reach should not look alive to its supervisor.
 */
export function untilStopped(
  hub: ConnectedHub,
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

/** `--mode`, which `connect` and `run` take. */
export const MODE_OPTION: Readonly<Record<string, OptionSpec>> = {
  mode: {
    type: "string",
    value: "M",
    help:
      "handoff: the endpoint's socket is passed here as a file descriptor and the hub leaves the data path " +
      "(Unix socket hubs only); relay: bytes travel over a hub byte stream (the only way through an https " +
      "hub); auto: handoff when possible",
    defaultText: "auto",
  },
};
