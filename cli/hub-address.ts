import { isLoopbackHost } from "../internal.js";
import { connect, type ConnectedHub, type ConnectHttpsOptions, type ReconnectOptions } from "../index.js";
import { CliError, EXIT } from "./errors.js";

/** Where a client command finds its hub: a Unix socket on this host, or an HTTPS URL. */
export type HubAddress =
  | { readonly kind: "unix"; readonly path: string; readonly text: string }
  | { readonly kind: "https"; readonly url: URL; readonly text: string };

/**
 * Parses `--hub`: `unix:///path`, a path with a `/` in it (a Unix socket: `./hub.sock`), or
 * `https://host:port` / `wss://host:port` (a path prefix is kept, for hubs behind a proxy). A
 * word with neither (`localhost`, `hub.sock`) is refused as ambiguous, naming both readings.
 * `text` is how errors name the hub.
 */
export function parseHubAddress(value: string, source: string): HubAddress {
  if (value === "")
    throw new CliError(`${source} is empty: give unix:///path or https://host:port`, EXIT.usage);
  if (value.startsWith("unix://")) return unixAddress(value.slice("unix://".length), source);
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(value)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    // "host:8443" is far more likely a forgotten scheme than a socket file named like that.
    if (/^[\w.-]+:\d+$/.test(value) || /^\[[\da-f:]+\]:\d+$/i.test(value)) {
      throw new CliError(`${source} ${JSON.stringify(value)}: did you mean https://${value}?`, EXIT.usage);
    }
    // A path says so with a slash. A bare word ("localhost", "hub") could be a host as well as a
    // file here; guessing wrong connects to the wrong thing, so it is refused with both readings.
    if (!value.includes("/")) {
      throw new CliError(
        `${source} ${JSON.stringify(value)} is neither a URL nor a path: for a hub's https listener write ` +
          `https://${value}:8443, for a socket file ./${value} (or unix://${value})`,
        EXIT.usage,
      );
    }
    return unixAddress(value, source);
  }
  if (scheme === "http" || scheme === "ws") {
    throw new CliError(
      `${source} ${JSON.stringify(value)}: a hub serves TLS only; use https://${value.slice(scheme.length + 3)}`,
      EXIT.usage,
    );
  }
  if (scheme !== "https" && scheme !== "wss") {
    throw new CliError(
      `${source} ${JSON.stringify(value)}: unknown scheme ${scheme}://; give unix:///path, a socket path or https://host:port`,
      EXIT.usage,
    );
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch (error) {
    throw new CliError(`${source} ${JSON.stringify(value)} is not a valid URL`, EXIT.usage, { cause: error });
  }
  if (url.hostname === "") throw new CliError(`${source} ${JSON.stringify(value)} has no host`, EXIT.usage);
  const text = `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, "")}`;
  return { kind: "https", url, text };
}

function unixAddress(path: string, source: string): HubAddress {
  if (path === "") throw new CliError(`${source} names no socket path`, EXIT.usage);
  return socketAddress(path);
}

/** The address of the hub on the Unix socket at `path` (`--socket`, the default socket). */
export function socketAddress(path: string): HubAddress {
  return { kind: "unix", path, text: `unix://${path}` };
}

/** How to open a session with a hub, whatever its address: the https settings apply to https only. */
export interface OpenHubOptions {
  connectTimeout: number;
  reconnect: ReconnectOptions | false;
  /** TLS, credentials and transport for an https:// or wss:// hub. */
  https: (url: URL) => ConnectHttpsOptions;
}

/**
 * Connects to the hub at `address` through the library's `connect(url)`, which picks the
 * transport by the scheme; the https settings go only to an https:// or wss:// hub.
 */
export function openHubAt(address: HubAddress, options: OpenHubOptions): Promise<ConnectedHub> {
  const { connectTimeout, reconnect } = options;
  if (address.kind === "https") {
    return connect(address.url, { ...options.https(address.url), connectTimeout, reconnect });
  }
  return connect(new URL(`unix://${encodeURI(address.path)}`), { connectTimeout, reconnect });
}

/**
 * Whether `url` names this host (`localhost`, 127.0.0.0/8, `::1`): only then may the client
 * trust the local `beamhub serve` development certificate without being told to.
 */
export function isLoopback(url: URL): boolean {
  return isLoopbackHost(url.hostname);
}
