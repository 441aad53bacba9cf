import { readFileSync } from "node:fs";
import { homedir, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { UnsafeSocketPathError } from "../index.js";
import { checkSocketDirectory, checkSocketFile, type SocketDirectoryPolicy } from "../internal.js";
import type { ConfigKeys } from "./config-keys.js";
import { CliError, EXIT } from "./errors.js";
import { parseHubAddress, socketAddress, type HubAddress } from "./hub-address.js";
import { pickSetting } from "./settings.js";

/** How a client command reaches an https:// hub. File options hold paths; they are read on connect. */
export interface HubTlsConfig {
  /** PEM file of the certificates to trust (the hub's own, or its CA) instead of the system's. */
  ca?: string;
  /** Client certificate and key (PEM files) for mutual TLS. */
  cert?: string;
  key?: string;
  /** Bearer token. */
  token?: string;
  /** `"auto"` (HTTP/2, WebSocket fallback), `"http2"` or `"websocket"`. */
  transport: "auto" | "http2" | "websocket";
  /** Where `beamhub serve` keeps its development certificate (trusted for loopback hubs). */
  certDir: string;
}

/** Where things are, from flags, then environment, then an optional config file, then defaults. */
export interface CliConfig {
  /** The hub client commands talk to. */
  hub: HubAddress;
  /** Which setting chose the hub (`--hub`, `BEAMHUB_SOCKET`, ...), for error messages. */
  hubSource: string;
  /** The Unix socket `serve` listens on. */
  socket: string;
  /**
   * Whether `socket` is the default one (no flag, variable or config key named it): its place
   * must then pass {@link checkDefaultSocket} before anyone listens or connects there.
   */
  socketIsDefault?: boolean;
  /** Default call timeout in milliseconds. */
  timeout: number;
  /**
   * When a client that lost its hub stops reconnecting: after `maxAttempts` attempts (0: it
   * does not reconnect) or `giveUpAfter` ms; both `Infinity` by default.
   */
  reconnect: { maxAttempts: number; giveUpAfter: number };
  tls: HubTlsConfig;
  /** The config file's keys (empty without one); `serve` reads its own settings from them. */
  file: Readonly<Record<string, unknown>>;
}

/** The flags `loadConfig` reads (all optional strings, as `parseArgs` gives them). */
export interface ConfigFlags {
  hub?: string;
  socket?: string;
  timeout?: string;
  config?: string;
  ca?: string;
  cert?: string;
  key?: string;
  token?: string;
  transport?: string;
  "cert-dir"?: string;
  "reconnect-attempts"?: string;
  "give-up-after"?: string;
}

/** Where the default socket is: its directory and how that directory must be checked. */
export function defaultSocketPlace(): { path: string; dir: string; policy: SocketDirectoryPolicy } {
  const runtime = process.env.XDG_RUNTIME_DIR;
  const dir = runtime !== undefined && runtime !== "" ? runtime : join(tmpdir(), `beamhub-${userInfo().uid}`);
  return {
    path: join(dir, "beamhub.sock"),
    dir,
    policy: runtime !== undefined && runtime !== "" ? "runtime" : "private",
  };
}

/**
 * Makes sure the default socket's place cannot be squatted by another local user: its directory
 * (`$XDG_RUNTIME_DIR`, else `<tmpdir>/beamhub-<uid>`, created 0700) and, if present, the socket
 * file itself (see `checkSocketDirectory` and `checkSocketFile`). Both `serve` and the clients
 * that default to this socket call it, so neither listens nor talks where another user could be.
 * @throws {CliError} (exit 1) naming the path, the owner and mode found and what to do; its
 *   cause is the {@link UnsafeSocketPathError}.
 */
export function checkDefaultSocket(): string {
  const { path, dir, policy } = defaultSocketPlace();
  try {
    checkSocketDirectory(dir, policy);
    checkSocketFile(path);
  } catch (error) {
    if (error instanceof UnsafeSocketPathError) {
      throw new CliError(error.message, EXIT.failed, { cause: error });
    }
    throw new CliError(`cannot use the socket directory ${dir}: ${(error as Error).message}`, EXIT.failed, {
      cause: error,
    });
  }
  return path;
}

/** Where `serve` keeps its development certificate by default. */
export function defaultCertDir(): string {
  return join(homedir(), ".beamhub", "dev-cert");
}

/**
 * Resolves the configuration. The config file (`--config`, or `BEAMHUB_CONFIG`) is JSON with
 * the same keys as the flags: `{"hub": "https://hub.example:8443", "ca": "hub.pem", "timeout": 5000}`;
 * with `keys`, a key that is no setting is an error. `--socket` (`BEAMHUB_SOCKET`, key `socket`)
 * is the older name of a Unix hub; at each level `hub` wins over it.
 */
export function loadConfig(
  flags: ConfigFlags,
  options: { env?: NodeJS.ProcessEnv; keys?: ConfigKeys } = {},
): CliConfig {
  const env = options.env ?? process.env;
  const fileName = flags.config ?? env.BEAMHUB_CONFIG;
  const file = readConfigFile(fileName);
  if (fileName !== undefined) options.keys?.check(file, fileName);
  if (flags.hub !== undefined && flags.socket !== undefined) {
    throw new CliError(
      "give either --hub or --socket, not both (--socket PATH is --hub unix://PATH)",
      EXIT.usage,
    );
  }
  const [hub, hubSource] = chooseHub([
    ["--hub", flags.hub, false],
    ["--socket", flags.socket, true],
    ["BEAMHUB_HUB", env.BEAMHUB_HUB, false],
    ["BEAMHUB_SOCKET", env.BEAMHUB_SOCKET, true],
    ["config key hub", asString(file.hub), false],
    ["config key socket", asString(file.socket), true],
  ]);
  // `serve` always needs a socket, also when the client default is a remote hub. The default's
  // place is checked here when clients will talk to it; with a remote hub only `serve` uses it,
  // and checks it itself (a client of an https hub has no business with the local directory).
  const named =
    hub?.kind === "unix" ? hub.path : (flags.socket ?? env.BEAMHUB_SOCKET ?? asString(file.socket));
  const socketIsDefault = named === undefined;
  const socket =
    named !== undefined
      ? stripUnix(named)
      : hub === undefined
        ? checkDefaultSocket()
        : defaultSocketPlace().path;
  // Flag, then BEAMHUB_* variable, then config key: the precedence of every CLI setting.
  const given: Readonly<Record<string, unknown>> = { ...flags };
  const setting = (flag: keyof ConfigFlags): unknown => pickSetting(flag, given, env, file)?.value;
  const text = (flag: keyof ConfigFlags): string | undefined => asString(setting(flag));
  const timeoutText = String(setting("timeout") ?? 30_000);
  const timeout = Number(timeoutText);
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new CliError(
      `timeout must be a number of milliseconds, got ${JSON.stringify(timeoutText)}`,
      EXIT.usage,
    );
  }
  const reconnect = {
    maxAttempts: countSetting("reconnect-attempts", setting("reconnect-attempts")),
    giveUpAfter: countSetting("give-up-after", setting("give-up-after")),
  };
  const tls: HubTlsConfig = {
    ca: text("ca"),
    cert: text("cert"),
    key: text("key"),
    token: text("token"),
    transport: parseTransport(text("transport")),
    certDir: text("cert-dir") ?? defaultCertDir(),
  };
  return {
    hub: hub ?? socketAddress(socket),
    hubSource: hubSource ?? "the default socket",
    socket,
    socketIsDefault,
    timeout,
    reconnect,
    tls,
    file,
  };
}

/** The first setting given, parsed; `socket`-style settings always name a Unix socket. */
function chooseHub(
  candidates: [source: string, value: string | undefined, isSocket: boolean][],
): [HubAddress | undefined, string | undefined] {
  for (const [source, value, isSocket] of candidates) {
    if (value === undefined) continue;
    const path = stripUnix(value);
    return [isSocket ? socketAddress(path) : parseHubAddress(value, source), source];
  }
  return [undefined, undefined];
}

function parseTransport(value: string | undefined): HubTlsConfig["transport"] {
  switch (value) {
    case undefined:
    case "auto":
      return "auto";
    case "http2":
    case "h2":
      return "http2";
    case "websocket":
    case "ws":
      return "websocket";
    default:
      throw new CliError(
        `--transport (BEAMHUB_TRANSPORT) must be auto, http2 or ws, got ${JSON.stringify(value)}`,
        EXIT.usage,
      );
  }
}

function readConfigFile(file: string | undefined): Record<string, unknown> {
  if (file === undefined) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, "utf8"));
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
      throw new Error("not a JSON object");
    }
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw new CliError(`cannot read config file ${file}: ${(error as Error).message}`, EXIT.usage, {
      cause: error,
    });
  }
}

/** A whole number >= 0 (or "unlimited"/"infinity"); absent: `Infinity`. */
function countSetting(flag: string, value: unknown): number {
  if (value === undefined) return Infinity;
  const text = String(value).trim().toLowerCase();
  if (text === "unlimited" || text === "infinity") return Infinity;
  const number = Number(text);
  if (text === "" || !Number.isInteger(number) || number < 0) {
    throw new CliError(
      `--${flag} must be a whole number >= 0 or "unlimited", got ${JSON.stringify(value)}`,
      EXIT.usage,
    );
  }
  return number;
}

function stripUnix(path: string): string {
  return path.replace(/^unix:\/\//, "");
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
