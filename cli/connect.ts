import {
  AuthenticationError,
  ConnectTimeoutError,
  RECONNECT_DEFAULTS,
  TlsError,
  type ReconnectOptions,
  type ConnectedHub,
} from "../index.js";
import { backoffDelay } from "../internal.js";
import type { CliConfig } from "./config.js";
import { CONNECT_TIMEOUT_MS } from "./deadline.js";
import { CliError, EXIT } from "./errors.js";
import { openHubAt } from "./hub-address.js";
import { httpsConnectFailure } from "./hub-errors.js";
import { httpsOptions } from "./https-options.js";

/** The CLI's reconnection: the library's delays, its own give-up rules (`--reconnect-attempts`, `--give-up-after`). */
export function reconnectOptions(config: CliConfig): ReconnectOptions | false {
  const { maxAttempts, giveUpAfter } = config.reconnect;
  if (maxAttempts === 0) return false;
  return { maxAttempts, giveUpAfter };
}

/** The default bound on one connect: `--timeout`, at most {@link CONNECT_TIMEOUT_MS}. */
function defaultConnectTimeout(config: CliConfig): number {
  return Math.min(config.timeout > 0 ? config.timeout : CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS);
}

/** Connects once, within `connectTimeout` ms, throwing what the library threw. */
function openHub(config: CliConfig, connectTimeout: number): Promise<ConnectedHub> {
  return openHubAt(config.hub, {
    connectTimeout,
    reconnect: reconnectOptions(config),
    https: (url) => httpsOptions(url, config.tls).options,
  });
}

/** The one line a failed connect prints, and its exit code. */
function connectFailure(config: CliConfig, error: unknown): CliError {
  const { hub } = config;
  if (error instanceof CliError) return error;
  if (hub.kind === "https") {
    const { options, trust } = httpsOptions(hub.url, config.tls);
    return httpsConnectFailure(
      hub.text,
      error,
      trust,
      options.token !== undefined || options.cert !== undefined,
    );
  }
  // A hub that took the connection but never answered is there, just not working.
  const hint =
    error instanceof ConnectTimeoutError
      ? "Check that the hub's process runs and is not stopped (kill -STOP, a debugger)."
      : "Is `beamhub serve` running?";
  return new CliError(
    `cannot reach the hub at ${hub.text}: ${(error as Error).message}. ${hint} ` +
      `(the hub came from ${config.hubSource}; ` +
      "set --hub or BEAMHUB_HUB to use another, e.g. --hub https://host:8443)",
    EXIT.unreachable,
    { cause: error },
  );
}

/**
 * Connects to the configured hub — its Unix socket, or `https://` / `wss://` with the CLI's
 * TLS settings — or fails with a `CliError` that says which hub and what to try. The connect
 * gives up after `connectTimeout` ms (default: `--timeout`, at most 10 s). The client
 * reconnects by itself when the hub goes away later (see {@link reportReconnection}).
 */
export async function connectToHub(
  config: CliConfig,
  connectTimeout = defaultConnectTimeout(config),
): Promise<ConnectedHub> {
  try {
    return await openHub(config, connectTimeout);
  } catch (error) {
    throw connectFailure(config, error);
  }
}

/** An attempt that ran out of time, which says nothing about why. */
function isTimeout(error: unknown): boolean {
  return (error as { code?: unknown })?.code === "ECONNECT_TIMEOUT";
}

/** Errors no retry fixes: usage mistakes, refused credentials, an untrusted certificate. */
function isPermanent(error: unknown): boolean {
  if (error instanceof CliError || error instanceof AuthenticationError) return true;
  if (error instanceof TlsError) return error.code !== "ETLS_HANDSHAKE";
  return (error as NodeJS.ErrnoException).code === "EACCES";
}

/**
 * {@link connectToHub}, trying again with backoff for up to `ms` (0: once) while the hub cannot
 * be reached — it may be restarting. Each attempt is bounded by what is left (at most 10 s).
 * Resolves with the hub and how many attempts it took.
 */
export async function connectToHubWithin(
  config: CliConfig,
  ms: number,
): Promise<{ hub: ConnectedHub; attempts: number }> {
  const deadline = Date.now() + ms;
  // The last failure that said why (refused, unreachable): a final attempt left with a sliver of
  // time only ever times out, and "connection refused" is the more useful thing to report.
  let telling: unknown;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const left = deadline - Date.now();
      const bound = ms > 0 ? Math.max(1, Math.min(left, CONNECT_TIMEOUT_MS)) : defaultConnectTimeout(config);
      return { hub: await openHub(config, bound), attempts: attempt };
    } catch (error) {
      const left = deadline - Date.now();
      if (!isTimeout(error)) telling = error;
      if (isPermanent(error) || left <= 0) {
        const failure = connectFailure(config, isTimeout(error) && telling !== undefined ? telling : error);
        if (attempt > 1) failure.message += ` (tried ${attempt} times in ${ms} ms)`;
        throw failure;
      }
      const wait = Math.min(backoffDelay(RECONNECT_DEFAULTS, attempt), left);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/**
 * Prints a line to stderr when the connection to the hub is lost and when it is back (with
 * the services registered again), and resolves when the client gives up (with the exit code
 * and the line to print) — for long-running commands, whose supervisors restart them when
 * they exit non-zero.
 */
export function reportReconnection(
  hub: ConnectedHub,
  hubText: string,
  log: (line: string) => void,
): Promise<{ code: number; message: string }> {
  hub.addEventListener("disconnected", (event) => {
    const why = event.reason?.message ?? "closed";
    log(
      event.willReconnect
        ? `beamhub: lost the hub at ${hubText} (${why}); reconnecting`
        : `beamhub: lost the hub at ${hubText} (${why}); reconnection is off`,
    );
  });
  hub.addEventListener("reconnected", (event) => {
    const services = event.registrations.map((entry) => `${entry.name} as ${entry.current.id}`);
    log(
      `beamhub: reconnected to ${hubText} after ${event.downtime} ms (attempt ${event.attempts})` +
        (services.length > 0 ? `; registered ${services.join(", ")} again` : ""),
    );
    for (const failure of event.failures) {
      log(
        `beamhub: could not register ${failure.name} again: ${(failure.error as Error)?.message ?? String(failure.error)}`,
      );
    }
  });
  return hub.closed.then((reason) => {
    if (reason === undefined) return { code: EXIT.ok, message: "" };
    return { code: EXIT.unreachable, message: `beamhub: ${reason.message}` };
  });
}
