import { connectHttps, connectUnix, ConnectTimeoutError, type RemoteHub } from "../index.js";
import type { CliConfig } from "./config.js";
import { CONNECT_TIMEOUT_MS } from "./deadline.js";
import { CliError, EXIT } from "./errors.js";
import { httpsConnectFailure } from "./hub-errors.js";
import { httpsOptions } from "./https-options.js";

/**
 * Connects to the configured hub — its Unix socket, or `https://` / `wss://` with the CLI's
 * TLS settings — or fails with a `CliError` that says which hub and what to try. The connect
 * gives up after `connectTimeout` ms (default: `--timeout`, at most 10 s).
 */
export async function connectToHub(
  config: CliConfig,
  connectTimeout = Math.min(config.timeout > 0 ? config.timeout : CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS),
): Promise<RemoteHub> {
  const { hub } = config;
  if (hub.kind === "https") {
    const { options, trust } = httpsOptions(hub.url, config.tls);
    options.connectTimeout = connectTimeout;
    try {
      return await connectHttps(hub.url, options);
    } catch (error) {
      throw httpsConnectFailure(
        hub.text,
        error,
        trust,
        options.token !== undefined || options.cert !== undefined,
      );
    }
  }
  try {
    return await connectUnix(hub.path, { connectTimeout });
  } catch (error) {
    // A hub that took the connection but never answered is there, just not working.
    const hint =
      error instanceof ConnectTimeoutError
        ? "Check that the hub's process runs and is not stopped (kill -STOP, a debugger)."
        : "Is `beamhub serve` running?";
    throw new CliError(
      `cannot reach the hub at ${hub.text}: ${(error as Error).message}. ${hint} ` +
        `(the hub came from ${config.hubSource}; ` +
        "set --hub or BEAMHUB_HUB to use another, e.g. --hub https://host:8443)",
      EXIT.unreachable,
      { cause: error },
    );
  }
}
