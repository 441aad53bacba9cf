/**
 * The follow loop of the commands that print what a hub sends until Ctrl-C (`sub`, `watch`):
 * connect, say the pid on stderr, stop on SIGINT/SIGTERM, run the loop, and then tell how it
 * ended — asked to stop (0), done (0), the hub ended it while connected (an error saying so), or
 * the connection was lost for good (the reconnection's exit code and message).
 * @module
 */
import type { ConnectedHub } from "../index.js";
import type { CliConfig } from "./config.js";
import { connectToHub, reportReconnection } from "./connect.js";
import { CliError, EXIT } from "./errors.js";
import { pidLine } from "./pid-line.js";

/** How one command follows. */
export interface FollowSpec {
  /** The command's name, for its pid line. */
  readonly command: string;
  /** Why the hub ended the loop while the connection stayed (e.g. it is closing). */
  readonly endedByHub: string;
  /** The error a failure of the loop becomes while the hub is still connected (default: itself). */
  readonly failure?: (error: unknown) => Error;
}

/**
 * Follows `config`'s hub with `loop`, given the hub and a signal that aborts on Ctrl-C or
 * SIGTERM (hand it to the subscription or watch, so that its iteration ends). `loop` returns
 * `true` when it is done (e.g. `--count` reached). Returns the exit code, or throws `CliError`.
 */
export async function follow(
  config: CliConfig,
  spec: FollowSpec,
  log: (text: string) => void,
  loop: (hub: ConnectedHub, signal: AbortSignal) => Promise<boolean | void>,
): Promise<number> {
  const hub = await connectToHub(config);
  const { stop, release } = stopOnSignals();
  const gaveUp = reportReconnection(hub, config.hub.text, log);
  log(pidLine(spec.command)); // stderr: stdout is what the loop prints
  try {
    try {
      if ((await loop(hub, stop.signal)) === true) return 0;
    } catch (error) {
      // A failure after Ctrl-C, or once the connection is gone for good, is told below.
      if (hub.state !== "closed" && !stop.signal.aborted) throw spec.failure?.(error) ?? error;
    }
    if (stop.signal.aborted) return 0;
    if (hub.state !== "closed") throw new CliError(spec.endedByHub, EXIT.failed);
    // The client gave up reconnecting (or lost the hub with reconnection off).
    const { code, message } = await gaveUp;
    if (code !== 0) throw new CliError(message.replace(/^beamhub: /, ""), code);
    return 0;
  } finally {
    release();
    await hub.close();
  }
}

/**
 * An abort controller that SIGINT and SIGTERM abort, for a command that runs until Ctrl-C
 * (`sub`, `watch`, `top`), and `release` to stop listening for them.
 */
export function stopOnSignals(): { stop: AbortController; release: () => void } {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  return {
    stop,
    release: () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    },
  };
}
