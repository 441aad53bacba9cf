import { connectTcp, exposeTcp, type GatewayMode } from "../../index.js";
import type { CliConfig } from "../config.js";
import { connectToHub } from "../connect.js";
import { CliError, EXIT } from "../errors.js";

/** Resolves on SIGINT/SIGTERM or when the hub connection ends (with the reason). */
function untilStopped(closed: Promise<Error | undefined>, log: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
    void closed.then((reason) => {
      log(`the hub connection ended${reason ? `: ${reason.message}` : ""}`);
      resolve();
    });
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
    log(`exposing ${options.target} as service ${options.name} on unix://${config.socket}`);
    await untilStopped(hub.connection.closed, log);
    await exposure.close();
    return 0;
  } finally {
    await hub.close();
  }
}

/** `beamhub connect <name> --listen host:port [--mode auto|handoff|relay]`: a local port to a service. */
export async function connect(
  config: CliConfig,
  options: { name: string | undefined; listen: string | undefined; mode: string | undefined },
  log: (line: string) => void,
): Promise<number> {
  if (options.name === undefined) {
    throw new CliError(
      "usage: beamhub connect <name> --listen host:port [--mode auto|handoff|relay]",
      EXIT.usage,
    );
  }
  const mode = (options.mode ?? "auto") as GatewayMode;
  if (!["auto", "handoff", "relay"].includes(mode)) {
    throw new CliError(
      `--mode must be auto, handoff or relay, got ${JSON.stringify(options.mode)}`,
      EXIT.usage,
    );
  }
  const hub = await connectToHub(config);
  try {
    const connector = await connectTcp(hub, options.name, { listen: options.listen, mode, log });
    log(
      `listening on ${connector.address.host}:${connector.address.port} -> service ${options.name} (${mode})`,
    );
    await untilStopped(hub.connection.closed, log);
    await connector.close();
    return 0;
  } finally {
    await hub.close();
  }
}
