import { parseAccessRules, type AccessConfig } from "./access-rules.js";
import type { CliConfig } from "./config.js";
import { parseDevCertHosts } from "./dev-cert.js";
import { CliError, EXIT } from "./errors.js";
import { isLoopbackHost, parseListenAddress, type ListenAddress } from "./listen-address.js";
import { loadClientCa, loadServerCertificate, type ServerCertificate } from "./server-tls.js";
import { booleanSetting, pickSetting, stringSetting, type Setting } from "./settings.js";
import { loadTokens, type TokenTable } from "./tokens-file.js";

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
  /** Keep-alive interval of every session in ms (0: off). */
  keepalive?: string;
}

/** Everything `serve` needs to know, checked before it listens anywhere. */
export interface ServeOptions {
  /** The https:// listener, or undefined for none (`--listen-https off`). */
  https: HttpsServeOptions | undefined;
  /** Access rules from the config file's `access` key. */
  access: AccessConfig | undefined;
  /** `--keepalive MS`: the keep-alive interval of every session, Unix and https (default: the library's, 2000). */
  keepAlive: number | undefined;
  /** Warnings to print when the hub starts. */
  warnings: string[];
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
}

const HTTPS_ONLY = ["tls-cert", "tls-key", "dev-cert-hosts", "client-ca", "tokens", "require-auth"] as const;

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
  const pick = (flag: string): Setting<unknown> | undefined =>
    pickSetting(flag, flags as Record<string, unknown>, env, config.file);
  const warnings: string[] = [];
  // Rules are structured data, so they come from the config file only, not from flags.
  const access =
    config.file.access === undefined ? undefined : parseAccessRules(config.file.access, "config key access");
  const keepAlive = keepAliveSetting(pick("keepalive"));
  const address = parseListenAddress(listenSetting(flags, env, config.file));
  if (address === undefined) {
    for (const flag of HTTPS_ONLY) {
      const given = pick(flag);
      if (given === undefined) continue;
      if (given.source.startsWith("--")) {
        throw new CliError(`${given.source} configures the https listener, which is off`, EXIT.usage);
      }
      warnings.push(`${given.source} is ignored: the https listener is off`);
    }
    return { https: undefined, access, keepAlive, warnings };
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
  };
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
  return { https, access, keepAlive, warnings };
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
