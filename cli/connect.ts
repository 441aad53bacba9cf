import { connectUnix, type RemoteHub } from "../index.js";
import type { CliConfig } from "./config.js";
import { CliError, EXIT } from "./errors.js";

/** Connects to the configured hub, or fails with a line that says which hub and what to try. */
export async function connectToHub(config: CliConfig): Promise<RemoteHub> {
  try {
    return await connectUnix(config.socket, { timeoutMs: 2000 });
  } catch (error) {
    throw new CliError(
      `cannot reach the hub at unix://${config.socket}: ${(error as Error).message}. ` +
        "Is `beamhub serve` running? (set --socket or BEAMHUB_SOCKET to use another hub)",
      EXIT.unreachable,
      { cause: error },
    );
  }
}
