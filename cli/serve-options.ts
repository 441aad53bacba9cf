import { join } from "node:path";
import { DEFAULT_MAX_UNIX_CONNECTIONS, DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID } from "../internal.js";
import { parseAccessRules, type AccessConfig } from "./access-rules.js";
import type { CliConfig } from "./config.js";
import { parseDevCertHosts } from "./dev-cert.js";
import { CliError, EXIT } from "./errors.js";
import { sessionLimits, type SessionLimitSettings } from "./session-limits.js";
import { isLoopbackHost, parseListenAddress, type ListenAddress } from "./listen-address.js";
import { loadClientCa, loadServerCertificate, type ServerCertificate } from "./server-tls.js";
import { booleanSetting, pickSetting, stringSetting, type Setting } from "./settings.js";
import { loadTokens, type TokenTable } from "./tokens-file.js";
import { clusterServeOptions, type ClusterServeOptions } from "./serve-cluster.js";
import { FEDERATION_FILES, federationServeOptions, type FederationServeOptions } from "./serve-federation.js";
import { taskServeOptions, type TaskServeOptions } from "./serve-tasks.js";
import { observeServeOptions, type ObserveServeOptions } from "./serve-observe-options.js";
import { pubsubServeOptions, type PubSubServeOptions } from "./serve-pubsub.js";
import { mlesServeOptions, type MlesServeOptions } from "./serve-mles.js";
import { normalizeOrigin, TrustedProxies } from "../internal.js";

/** The flags of `serve` as `parseArgs` gives them. */
export interface ServeFlags {
  "listen-https"?: string;
  /** Older names of `--listen-https HOST:PORT` and `--listen-https off`. */
  https?: string;
  "no-https"?: boolean;
  "tls-cert"?: string;
  "tls-key"?: string;
  "dev-cert-hosts"?: string;
  "client-ca"?: string;
  tokens?: string;
  "require-auth"?: boolean;
  /** Permission bits of the Unix socket, octal text (default 0600). */
  "socket-mode"?: string;
  /** Caps on open Unix connections, in total and per peer uid. */
  "max-unix-connections"?: string;
  "max-unix-connections-per-uid"?: string;
  /** Web origins whose pages may use the hub (repeatable). */
  "allow-origin"?: string[];
  /** Reverse proxies whose X-Forwarded-For is believed (repeatable). */
  "trusted-proxy"?: string[];
  "max-connections"?: string;
  "max-connections-per-address"?: string;
  /** Keep-alive interval of every session in ms (0: off). */
  keepalive?: string;
  /** Per-session limits of both listeners (positive integers). */
  "max-frame-size"?: string;
  "max-streams"?: string;
  "max-channels"?: string;
  "max-pending-requests"?: string;
  /** HTTPS-only caps: sessions in total and per identity, plain request bodies. */
  "max-sessions"?: string;
  "max-sessions-per-identity"?: string;
  "max-body-size"?: string;
  /** The task broker's settings (cli/serve-tasks.ts). */
  id?: string;
  "listen-http"?: string;
  "tasks-file"?: string;
  /** A federation (cli/serve-federation.ts). */
  federation?: string;
  broker?: string;
  proxy?: string;
  /** A cluster on NATS (cli/serve-cluster.ts). */
  cluster?: string;
  "cluster-name"?: string;
  "hub-name"?: string;
  "cluster-tasks"?: string;
  "cluster-tls-ca"?: string;
  "cluster-tls-cert"?: string;
  "cluster-tls-key"?: string;
  "cluster-creds"?: string;
  "cluster-user"?: string;
  "cluster-password-file"?: string;
  /** `--metrics HOST:PORT`, `--log-level`, `--log-format`, `--slow-call MS`. */
  metrics?: string;
  "log-level"?: string;
  "log-format"?: string;
  "slow-call"?: string;
  /** The Mles face (cli/serve-mles.ts). */
  mles?: boolean;
  "mles-key"?: string;
  /** Pub/sub history and persistence (cli/serve-pubsub.ts). */
  "pubsub-file"?: string;
  "pubsub-history"?: string;
  "pubsub-history-bytes"?: string;
  "publish-timeout"?: string;
  "pubsub-http"?: string;
  "pubsub-http-streams"?: string;
  "pubsub-http-ring"?: string;
}

/** Everything `serve` needs to know, checked before it listens anywhere. */
export interface ServeOptions {
  /** The https:// listener, or undefined for none (`--listen-https off`). */
  https: HttpsServeOptions | undefined;
  /** Access rules from the config file's `access` key. */
  access: AccessConfig | undefined;
  /** The Unix listener's socket mode and connection caps. */
  unix: UnixServeOptions;
  /** `--keepalive MS`: the keep-alive interval of every session, Unix and https (default: the library's, 2000). */
  keepAlive: number | undefined;
  /** Per-session limits of both listeners (`--max-frame-size`, ...); empty: the defaults. */
  limits: SessionLimitSettings;
  /** The task broker: the hub's id, application keys, plain-HTTP listener, log file. */
  tasks: TaskServeOptions;
  /** `--federation DIR` (with `--broker`, `--proxy`): a broker, or a site of one. */
  federation: FederationServeOptions | undefined;
  /** `--cluster URLS` (with `--cluster-name`, `--hub-name`): a cluster on NATS to join. */
  cluster: ClusterServeOptions | undefined;
  /** Metrics listener, log level and format, slow-call threshold. */
  observe: ObserveServeOptions;
  /** The Mles face on the https listener, or undefined when off (`--mles`). */
  mles: MlesServeOptions | undefined;
  /** Pub/sub history limits, publish timeout and history file. */
  pubsub: PubSubServeOptions;
  /** Warnings to print when the hub starts. */
  warnings: string[];
}

/** The Unix listener's settings. */
export interface UnixServeOptions {
  /** Permission bits of the socket file: 0600 (default), or 0660/0666 to let others connect. */
  readonly mode: number;
  readonly maxConnections: number;
  readonly maxConnectionsPerUid: number;
}

/** The https:// listener's address, certificate and authentication. */
export interface HttpsServeOptions {
  readonly address: ListenAddress;
  readonly loopback: boolean;
  /** A certificate from files, or the development certificate in `certDir`. */
  readonly certificate:
    ({ kind: "files" } & ServerCertificate) | { kind: "dev"; certDir: string; extraHosts: string[] };
  /** CA certificates of client certificates (mutual TLS), and the file they came from. */
  readonly clientCa: { pem: string; file: string } | undefined;
  readonly tokens: TokenTable | undefined;
  readonly requireAuth: boolean;
  /** Web origins allowed to use the hub from a browser (normalized; `*` for any). */
  readonly allowOrigins: readonly string[];
  /** Proxies (addresses, CIDR ranges) whose X-Forwarded-For is believed. */
  readonly trustedProxies: readonly string[];
  /** Connection caps; undefined: the listener's defaults. */
  readonly maxConnections: number | undefined;
  readonly maxConnectionsPerAddress: number | undefined;
  /** Session caps and the plain mapping's body limit; undefined: the listener's defaults. */
  readonly maxSessions: number | undefined;
  readonly maxSessionsPerIdentity: number | undefined;
  readonly maxBodySize: number | undefined;
}

const HTTPS_ONLY = [
  "tls-cert",
  "tls-key",
  "dev-cert-hosts",
  "client-ca",
  "tokens",
  "require-auth",
  "allow-origin",
  "trusted-proxy",
  "max-connections",
  "max-connections-per-address",
  "max-sessions",
  "max-sessions-per-identity",
  "max-body-size",
  "pubsub-http",
  "pubsub-http-streams",
  "pubsub-http-ring",
] as const;

/**
 * Resolves `serve`'s options from flags, then `BEAMHUB_*` variables, then the config file
 * (`config.file`), and reads and checks every file they name: any mistake is a usage error
 * (exit 2) naming the setting before a socket is bound.
 */
export function resolveServeOptions(
  flags: ServeFlags,
  config: CliConfig,
  env: NodeJS.ProcessEnv = process.env,
): ServeOptions {
  const given = (flag: string): Setting<unknown> | undefined =>
    pickSetting(flag, flags as Record<string, unknown>, env, config.file);
  // A broker presents its federation certificate and asks sites for theirs, unless told otherwise.
  const federationDir = stringSetting(given("federation"));
  const brokerDefaults =
    federationDir !== undefined && given("broker") === undefined
      ? BROKER_TLS_DEFAULTS
      : ({} as Readonly<Record<string, string>>);
  const pick = (flag: string): Setting<unknown> | undefined =>
    given(flag) ??
    (brokerDefaults[flag] === undefined
      ? undefined
      : { value: join(federationDir!.value, brokerDefaults[flag]), source: federationDir!.source });
  const warnings: string[] = [];
  // Rules are structured data, so they come from the config file only, not from flags.
  const access =
    config.file.access === undefined ? undefined : parseAccessRules(config.file.access, "config key access");
  const unix = unixOptions(pick, config.socketIsDefault === true);
  if ((unix.mode & 0o066) !== 0) {
    warnings.push(
      `the Unix socket is mode 0${unix.mode.toString(8)}: ${(unix.mode & 0o006) !== 0 ? "every local user" : "its group"} may connect ` +
        (access === undefined
          ? "and, without access rules, do nothing (only this user and root may); grant them services with an access list"
          : "and do what the access rules grant them"),
    );
  }
  const keepAlive = keepAliveSetting(pick("keepalive"));
  const limits = sessionLimits(pick, countSetting);
  const tasks = taskServeOptions(pick, config.file, env);
  const federation = federationServeOptions(pick, tasks.id, env);
  const cluster = clusterServeOptions(pick, env);
  const observe = observeServeOptions(pick);
  const pubsub = pubsubServeOptions(pick);
  const address = parseListenAddress(listenSetting(flags, env, config.file));
  const mles = mlesServeOptions(pick, env, address !== undefined);
  // Everything but the https listener, which the two returns below settle differently.
  const settings = {
    access,
    unix,
    keepAlive,
    limits,
    tasks,
    federation,
    cluster,
    observe,
    pubsub,
    mles,
    warnings,
  };
  if (address === undefined) {
    for (const flag of HTTPS_ONLY) {
      const given = pick(flag);
      if (given === undefined) continue;
      if (given.source.startsWith("--")) {
        throw new CliError(`${given.source} configures the https listener, which is off`, EXIT.usage);
      }
      warnings.push(`${given.source} is ignored: the https listener is off`);
    }
    if (federation !== undefined && federation.broker === undefined)
      throw new CliError(
        `${federationDir!.source} without --broker makes a broker, which needs the https listener`,
        EXIT.usage,
      );
    return { https: undefined, ...settings };
  }
  const tokens = mapDefined(stringSetting(pick("tokens")), loadTokens);
  const clientCaSetting = stringSetting(pick("client-ca"));
  const clientCa = mapDefined(clientCaSetting, (setting) => ({
    pem: loadClientCa(setting),
    file: setting.value,
  }));
  const requireAuth = booleanSetting(pick("require-auth"));
  if (requireAuth?.value === true && tokens === undefined && clientCa === undefined) {
    throw new CliError(
      `${requireAuth.source} needs --client-ca FILE or --tokens FILE: otherwise no peer could authenticate`,
      EXIT.usage,
    );
  }
  const https: HttpsServeOptions = {
    address,
    loopback: isLoopbackHost(address.host),
    certificate: certificateOptions(pick, config.tls.certDir),
    clientCa,
    tokens,
    requireAuth: requireAuth?.value ?? false,
    allowOrigins: allowOriginsOf(listSetting(pick("allow-origin"))),
    trustedProxies: trustedProxiesOf(listSetting(pick("trusted-proxy"))),
    maxConnections: countSetting(pick("max-connections")),
    maxConnectionsPerAddress: countSetting(pick("max-connections-per-address")),
    maxSessions: countSetting(pick("max-sessions")),
    maxSessionsPerIdentity: countSetting(pick("max-sessions-per-identity")),
    maxBodySize: countSetting(pick("max-body-size")),
  };
  if (https.allowOrigins.includes("*")) {
    warnings.push(
      "allow-origin * lets every web page use the hub from its visitors' browsers (with their client certificates, if any)",
    );
  }
  if (https.certificate.kind === "files") warnings.push(...https.certificate.warnings);
  if (tokens !== undefined) warnings.push(...tokens.warnings);
  if (!https.loopback && !https.requireAuth && access === undefined) {
    warnings.push(
      tokens === undefined && clientCa === undefined
        ? `the https listener on ${address.host} is reachable from other machines and has no authentication: ` +
            "anyone who reaches it may call and register any service. Add --tokens FILE and/or --client-ca FILE, with --require-auth"
        : `the https listener on ${address.host} is reachable from other machines and lets in peers without credentials ` +
            "(as anonymous): add --require-auth, or access rules in the config file",
    );
  }
  if (mles !== undefined && mles.key === undefined && !https.loopback) {
    warnings.push(
      `the Mles face on ${address.host} has no key: anyone who reaches it may join any channel under any uid ` +
        "and read its history. Set MLES_KEY (or --mles-key) to require Mles auth",
    );
  }
  return { https, ...settings };
}

/** What `--federation DIR` sets for a broker's https listener when the flags do not. */
const BROKER_TLS_DEFAULTS: Readonly<Record<string, string>> = {
  "tls-cert": FEDERATION_FILES.cert,
  "tls-key": FEDERATION_FILES.key,
  "client-ca": FEDERATION_FILES.root,
};

/**
 * `--socket-mode`, `--max-unix-connections` and `--max-unix-connections-per-uid`. The mode may
 * only add read/write for group or others to 0600 (a socket needs both to be connected to;
 * execute bits and set-id bits mean nothing for it), and the socket stays owner-writable.
 */
function unixOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
  socketIsDefault: boolean,
): UnixServeOptions {
  const modeSetting = pick("socket-mode");
  let mode = 0o600;
  if (modeSetting !== undefined) {
    const text = String(modeSetting.value);
    const parsed = /^0?[0-7]{3}$/.test(text) ? parseInt(text, 8) : NaN;
    if (!(parsed === 0o600 || parsed === 0o660 || parsed === 0o666)) {
      throw new CliError(
        `${modeSetting.source} must be 0600 (this user only), 0660 (and the socket's group) or 0666 (every local user), got ${JSON.stringify(modeSetting.value)}`,
        EXIT.usage,
      );
    }
    mode = parsed;
    if (mode !== 0o600 && socketIsDefault) {
      throw new CliError(
        `${modeSetting.source} 0${mode.toString(8)} cannot let anyone else in to the default socket: its directory ` +
          "is this user's alone. Give the socket a place others can enter with --socket PATH",
        EXIT.usage,
      );
    }
  }
  const count = (flag: string, fallback: number): number => {
    const given = pick(flag);
    if (given === undefined) return fallback;
    const value = typeof given.value === "number" ? given.value : Number(String(given.value).trim() || NaN);
    if (!Number.isSafeInteger(value) || value < 1) {
      throw new CliError(
        `${given.source} must be a whole number of connections, at least 1, got ${JSON.stringify(given.value)}`,
        EXIT.usage,
      );
    }
    return value;
  };
  const maxConnections = count("max-unix-connections", DEFAULT_MAX_UNIX_CONNECTIONS);
  const maxConnectionsPerUid = count(
    "max-unix-connections-per-uid",
    Math.min(DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID, maxConnections),
  );
  return { mode, maxConnections, maxConnectionsPerUid };
}

/** `--keepalive MS` (`BEAMHUB_KEEPALIVE`, config key `keepalive`): a whole number of ms, 0 for off. */
function keepAliveSetting(setting: Setting<unknown> | undefined): number | undefined {
  if (setting === undefined) return undefined;
  const value = typeof setting.value === "string" ? Number(setting.value.trim()) : setting.value;
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value > 2 ** 31 - 1) {
    throw new CliError(
      `${setting.source} must be a whole number of milliseconds (0 turns the keep-alive off), got ${JSON.stringify(setting.value)}`,
      EXIT.usage,
    );
  }
  return value;
}

/** `--listen-https`, or its older names `--https`/`--no-https` and `BEAMHUB_HTTPS`; default loopback 8443. */
function listenSetting(
  flags: ServeFlags,
  env: NodeJS.ProcessEnv,
  file: Readonly<Record<string, unknown>>,
): Setting<string> {
  const given =
    pickSetting("listen-https", flags as Record<string, unknown>, {}, {}) ??
    (flags.https === undefined ? undefined : { value: flags.https, source: "--https" }) ??
    (flags["no-https"] === true ? { value: "off", source: "--no-https" } : undefined) ??
    pickSetting("listen-https", {}, env, {}) ??
    (env.BEAMHUB_HTTPS === undefined ? undefined : { value: env.BEAMHUB_HTTPS, source: "BEAMHUB_HTTPS" }) ??
    pickSetting("listen-https", {}, {}, file);
  return stringSetting(given) ?? { value: "127.0.0.1:8443", source: "the default" };
}

function certificateOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
  certDir: string,
): HttpsServeOptions["certificate"] {
  const cert = stringSetting(pick("tls-cert"));
  const key = stringSetting(pick("tls-key"));
  const hosts = pick("dev-cert-hosts");
  if (cert !== undefined || key !== undefined) {
    if (cert === undefined || key === undefined) {
      const need = cert === undefined ? `${key?.source} needs --tls-cert` : `${cert.source} needs --tls-key`;
      throw new CliError(`${need} (the certificate and its private key, PEM)`, EXIT.usage);
    }
    if (hosts !== undefined) {
      throw new CliError(
        `${hosts.source} applies to the generated development certificate, not to ${cert.source}: ` +
          "put those names in your certificate",
        EXIT.usage,
      );
    }
    return { kind: "files", ...loadServerCertificate(cert, key) };
  }
  return { kind: "dev", certDir, extraHosts: hosts === undefined ? [] : parseDevCertHosts(hosts) };
}

/**
 * A repeatable setting: the flag given several times, a comma-separated `BEAMHUB_*` variable,
 * or a config key holding a string or a list of strings.
 */
function listSetting(setting: Setting<unknown> | undefined): Setting<string[]> | undefined {
  if (setting === undefined) return undefined;
  const { value, source } = setting;
  const items = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(items) || items.some((item) => typeof item !== "string")) {
    throw new CliError(`${source} must be a string or a list of strings`, EXIT.usage);
  }
  const list = (items as string[]).map((item) => item.trim()).filter((item) => item !== "");
  if (list.length === 0) throw new CliError(`${source} is empty`, EXIT.usage);
  return { value: list, source };
}

function allowOriginsOf(setting: Setting<string[]> | undefined): string[] {
  if (setting === undefined) return [];
  return setting.value.map((origin) => {
    if (origin === "*") return origin;
    try {
      return normalizeOrigin(origin);
    } catch (error) {
      throw new CliError(`${setting.source}: ${(error as Error).message}`, EXIT.usage, { cause: error });
    }
  });
}

function trustedProxiesOf(setting: Setting<string[]> | undefined): string[] {
  if (setting === undefined) return [];
  try {
    new TrustedProxies(setting.value); // checks every entry
  } catch (error) {
    throw new CliError(`${setting.source}: ${(error as Error).message}`, EXIT.usage, { cause: error });
  }
  return setting.value;
}

/** A positive integer setting (a count), from a flag, variable or config number. */
function countSetting(setting: Setting<unknown> | undefined): number | undefined {
  if (setting === undefined) return undefined;
  const { value, source } = setting;
  const count = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : NaN;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new CliError(`${source} must be a positive integer, got ${JSON.stringify(value)}`, EXIT.usage);
  }
  return count;
}

function mapDefined<T, U>(value: T | undefined, map: (value: T) => U): U | undefined {
  return value === undefined ? undefined : map(value);
}

/** The auth part of the https status line: who gets in and how. */
export function describeAuth(https: HttpsServeOptions): string {
  const ways = [
    ...(https.clientCa === undefined ? [] : [`client certificates signed by ${https.clientCa.file}`]),
    ...(https.tokens === undefined ? [] : [`bearer tokens (${https.tokens.count} in ${https.tokens.file})`]),
  ];
  if (ways.length === 0) return "auth: none (every peer is anonymous)";
  return `auth: ${ways.join(" or ")}, ${https.requireAuth ? "required" : "optional (peers without credentials are anonymous)"}`;
}

/** The browser and network part of the https status line: origins, proxies, connection caps. */
export function describeWebAccess(https: HttpsServeOptions): string {
  const origins =
    https.allowOrigins.length === 0
      ? "browsers: its own origin only"
      : `browsers: its own origin and ${https.allowOrigins.join(", ")}`;
  const proxies =
    https.trustedProxies.length === 0
      ? ""
      : `; X-Forwarded-For trusted from ${https.trustedProxies.join(", ")}`;
  return `${origins}${proxies}`;
}
