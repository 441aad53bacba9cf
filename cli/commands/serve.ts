import { existsSync } from "node:fs";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import {
  Hub,
  listenHttps,
  listenUnix,
  peerCredentialsAvailable,
  taskRequestListener,
  taskUpgradeListener,
  VERSION,
  type UpgradeHandler,
  type HttpsListener,
  type Authenticate,
  type ListenHttpsOptions,
  type UnixListener,
  type MetricsListener,
  type ReadinessCheck,
  type HttpsRefusal,
} from "../../index.js";
import { createLogger, lineLogger } from "../logger.js";
import { logHttpsRefusal, logHubEvents, serveMetrics, type ServeMetrics } from "../serve-observe.js";
import { fdPassingUnavailable } from "../../internal.js";
import { defaultAccessRules } from "../access-rules.js";
import type { CommandSpec } from "../command-spec.js";
import { checkDefaultSocket, type CliConfig } from "../config.js";
import { loadDevCertificate } from "../dev-cert.js";
import { CliError, EXIT } from "../errors.js";
import { logUnhandledRejections } from "../last-resort.js";
import { SERVE_GROUPS, SERVE_INSTEAD } from "../options/serve-flags.js";
import { pidLine } from "../pid-line.js";
import { startCluster } from "../serve-cluster.js";
import type { Cluster } from "../../cluster/index.js";
import { startFederation, type ServedFederation } from "../serve-federation.js";
import { describePubSubHttp, openPubSub } from "../serve-pubsub.js";
import { startTasks } from "../serve-tasks.js";
import { describeMles, startMles } from "../serve-mles.js";
import {
  describeAuth,
  describeWebAccess,
  resolveServeOptions,
  type HttpsServeOptions,
  type ServeFlags,
  type ServeOptions,
} from "../serve-options.js";
import { fingerprintOf, type ServerCertificate } from "../server-tls.js";
import { firstStopSignal } from "../stop-signals.js";
import type { TokenTable } from "../tokens-file.js";

/**
 * `beamhub serve`: a hub on a Unix socket (mode 0600) at the configured path and, unless
 * `--listen-https off`, on https:// with a given certificate or a generated, persisted
 * development one, optionally requiring client certificates or bearer tokens, with access rules
 * from the config file. Prints one status line per listener. Runs until SIGINT/SIGTERM, then
 * stops accepting and closes the hub: calls still in flight fail with "hub is closed" rather
 * than hang (a repeat of the signal within a second is ignored, a later one forces: see
 * stop-signals.ts). SIGHUP reads the tokens file again.
 */
export async function serve(
  config: CliConfig,
  options: ServeOptions,
  write: (line: string) => void,
): Promise<number> {
  const logger = createLogger({ level: options.observe.logLevel, format: options.observe.logFormat }, write);
  // serve's status lines, through the logger: levels and JSON apply to them too.
  const log = lineLogger(logger);
  const stopGuard = logUnhandledRejections(log);
  // Handled from the start: a signal during start-up then stops the hub once it is up, and
  // never kills it between creating the socket file and removing it.
  const stopped = firstStopSignal(log);
  // The certificate first: a failure then leaves no socket behind.
  const tls = options.https === undefined ? undefined : await certificateFor(options.https, log);
  // Also with a remote hub as the clients' default, the default socket's place must be safe.
  if (config.socketIsDefault === true) checkDefaultSocket();
  const hub = new Hub({
    callTimeout: config.timeout,
    authorize: options.access?.rules ?? defaultAccessRules(),
    ...(options.observe.slowCallMs === undefined ? {} : { slowCallMs: options.observe.slowCallMs }),
    pubsub: await openPubSub(options.pubsub, log),
  });
  const stopLogging = logHubEvents(hub, logger);
  const readiness: ReadinessCheck[] = [];
  const observed = serveMetrics(hub, readiness);
  const started = Date.now();
  await hub.register("hub.info", () => ({
    version: VERSION,
    uptimeMs: Date.now() - started,
    pid: process.pid,
  }));
  const tasks = await startTasks(hub, options.tasks, log);
  observed.metrics.addTasks(() => ({ tasks: tasks.broker.taskCount, waiting: tasks.broker.waiting }));
  const stale = existsSync(config.socket);
  const unix = await listenUnix(hub, config.socket, {
    mode: options.unix.mode,
    maxConnections: options.unix.maxConnections,
    maxConnectionsPerUid: options.unix.maxConnectionsPerUid,
    onRefused: (refusal) => logger.warn({ event: "refused", transport: "unix" }, refusal.message),
    keepAlive: options.keepAlive,
    limits: options.limits,
  });
  readiness.push({ name: "unix listener", check: () => existsSync(unix.path) || `${unix.path} is gone` });
  log(
    `beamhub ${VERSION}: serving on unix://${unix.path} (${describeUnix(options)})` +
      `${stale ? " (replaced a stale socket file)" : ""}`,
  );
  // SIGHUP may replace the tokens: the listener looks them up through this variable.
  let tokens = options.https?.tokens;
  const authenticate: Authenticate | undefined =
    tokens === undefined ? undefined : (token, peer) => tokens?.authenticate(token, peer);
  let https: HttpsListener | undefined;
  // Refusals of every face of the https listener go to one log event, https.refused, and are
  // counted in https_refused_total.
  const logRefusal = logHttpsRefusal(logger);
  const onRefused = (refusal: HttpsRefusal): void => {
    observed.metrics.countRefusal(refusal);
    logRefusal(refusal);
  };
  const mles = options.mles === undefined ? undefined : startMles(hub, options.mles, onRefused);
  // A broker's sites for /v1/health/proxies: the federation starts once the listeners are up.
  let federation: ServedFederation | undefined = undefined;
  const proxies = {
    connected: async () => (await federation?.health?.connected()) ?? [],
    status: async (id: string) => federation?.health?.status(id),
  };
  if (options.https !== undefined && tls !== undefined) {
    https = await startHttps(
      hub,
      unix,
      { ...options, https: options.https },
      tls,
      authenticate,
      log,
      onRefused,
      orElse(
        observed.httpsRoutes({ authenticate, requireAuth: options.https.requireAuth }),
        taskRequestListener(tasks.broker, { proxies, monitoringKey: options.federation?.monitoringKey }),
      ),
      // Samply's sockets (/v1/sockets) first, then Mles clients (--mles) on the same port.
      upgradesInTurn(taskUpgradeListener(tasks.broker, { onRefused }), mles?.upgrade),
    );
    const server = https.server;
    readiness.push({ name: "https listener", check: () => server.listening || "not listening" });
    log(
      `beamhub ${VERSION}: serving on ${https.url} — certificate ${tls.description}, ` +
        `SHA-256 ${fingerprintOf(tls.cert)}; ${describeAuth(options.https)}; ${describeWebAccess(options.https)}` +
        (options.access === undefined ? "" : `; access rules: ${options.access.count}`),
    );
    if (tasks.broker.keys.apps.length > 0) log(`tasks: REST also on ${https.url}/v1/tasks`);
    log(describePubSubHttp(https.url, options.pubsub.http));
    if (options.mles !== undefined) log(describeMles(https.url, options.mles));
  }
  const metricsListener = await startMetrics(observed, options, unix, https, hub);
  log(
    `metrics: ${[metricsListener?.url, https?.url].filter((url) => url !== undefined).join(" and ") || "none"}` +
      (metricsListener === undefined && https === undefined ? " (--metrics HOST:PORT to serve them)" : "") +
      ` (/metrics, /healthz, /readyz${https === undefined ? "" : "; /metrics on https needs hub.stats access"})` +
      (options.observe.slowCallMs === undefined
        ? ""
        : `; logging calls slower than ${options.observe.slowCallMs} ms`),
  );
  for (const warning of options.warnings) log(`warning: ${warning}`);
  const noFds = fdPassingUnavailable();
  if (noFds !== undefined) {
    log(
      `warning: ${noFds.message}. The Unix socket serves calls, channels and byte streams; only ` +
        "passing file descriptors fails (FdUnavailableError). Peers are known by the socket's mode " +
        "alone (0600: this user). To get fd passing back: npm rebuild beamhub",
    );
  } else if (!peerCredentialsAvailable()) {
    log(
      "warning: the fd addon cannot tell who connects (built from older sources): every Unix peer, " +
        "this user too, is anonymous to the access rules. Rebuild it: node scripts/build-native.mjs",
    );
  }
  const reload = (): void => {
    tokens = reloadTokens(tokens, log);
    if (https !== undefined && options.https?.certificate.kind === "files")
      reloadCertificate(https, options.https.certificate, options.https.clientCa?.pem, log);
    if (federation !== undefined)
      void federation.reload().then(log, (error: Error) => log(`SIGHUP: federation: ${error.message}`));
  };
  process.on("SIGHUP", reload);
  let cluster: Cluster | undefined;
  // Everything up, closed in order, each part even when an earlier one fails.
  const closeEverything = (): Promise<void> =>
    closeInTurn([
      () => process.off("SIGHUP", reload),
      () => federation?.close(),
      () => cluster?.leave(),
      () => unix.close(),
      // Mles members first: they hear 1001 (going away) before the listener cuts every socket.
      () => mles?.close(),
      () => https?.close(),
      () => tasks.close(),
      () => hub.close(),
      () => metricsListener?.close(),
      stopLogging,
      stopGuard,
    ]);
  try {
    federation =
      options.federation === undefined
        ? undefined
        : await startFederation(hub, options.tasks.id, options.federation, log, tasks.broker, https);
    if (federation?.readiness !== undefined) readiness.push(federation.readiness);
    cluster =
      options.cluster === undefined
        ? undefined
        : await startCluster(
            hub,
            options.cluster,
            log,
            logger,
            options.tasks.clusterShared ? tasks.broker : undefined,
          );
  } catch (error) {
    // A hub that cannot join its federation or cluster is not the hub asked for: everything
    // already up is closed, so that the process exits non-zero with the error instead of
    // serving on alone (the listeners would keep it alive). The start's error is the one told.
    await closeEverything().catch(() => undefined);
    throw error;
  }
  log(pidLine("serve"));
  log("press Ctrl-C to stop");
  log(`${await stopped}: shutting down`);
  observed.stopping();
  await closeEverything();
  log("stopped");
  return 0;
}

/**
 * Runs every step in turn, each one even when an earlier one failed, then throws the first
 * failure: a part that does not close cleanly leaves none of the others open.
 */
async function closeInTurn(steps: ReadonlyArray<() => unknown>): Promise<void> {
  let first: { error: unknown } | undefined;
  for (const step of steps) {
    try {
      await step();
    } catch (error) {
      first ??= { error };
    }
  }
  if (first !== undefined) throw first.error;
}

/** The plain metrics listener of `--metrics`; a failure closes what already runs. */
async function startMetrics(
  observed: ServeMetrics,
  options: ServeOptions,
  unix: UnixListener,
  https: HttpsListener | undefined,
  hub: Hub,
): Promise<MetricsListener | undefined> {
  try {
    return await observed.listen(options.observe);
  } catch (error) {
    await unix.close();
    await https?.close();
    await hub.close();
    throw error;
  }
}

/** A request listener that tries `first`, and hands what it does not take to `next`. */
/** The first of `handlers` that takes an upgrade (the listener answers 404 when none does). */
function upgradesInTurn(...handlers: Array<UpgradeHandler | undefined>): UpgradeHandler {
  const present = handlers.filter((handler) => handler !== undefined);
  return (request, socket, head) => present.some((handler) => handler(request, socket, head));
}

function orElse(
  first: (request: Http2ServerRequest, response: Http2ServerResponse) => boolean,
  next: (request: Http2ServerRequest, response: Http2ServerResponse) => void,
): (request: Http2ServerRequest, response: Http2ServerResponse) => void {
  return (request, response) => {
    if (!first(request, response)) next(request, response);
  };
}

/** The Unix status line's middle: who may connect, what rules apply, the caps. */
function describeUnix(options: ServeOptions): string {
  const { mode, maxConnections, maxConnectionsPerUid } = options.unix;
  const who =
    mode === 0o600
      ? "this user only"
      : mode === 0o660
        ? "this user and the socket's group"
        : "every local user";
  const rules =
    options.access === undefined
      ? "this user and root may do everything, other users nothing"
      : `this user and root may do everything, other users what the ${options.access.count} access rules grant`;
  return `mode 0${mode.toString(8)}: ${who}; ${rules}; at most ${maxConnections} connections, ${maxConnectionsPerUid} per uid`;
}

/**
 * SIGHUP: the tokens file again. New sessions are checked against the new table; open sessions
 * keep the identity they authenticated with. A file that no longer loads keeps the old table.
 */
function reloadTokens(tokens: TokenTable | undefined, log: (line: string) => void): TokenTable | undefined {
  if (tokens === undefined) {
    log("SIGHUP: no tokens file to reload");
    return tokens;
  }
  let reloaded: TokenTable;
  try {
    reloaded = tokens.reload();
  } catch (error) {
    log(`SIGHUP: kept the previous tokens: ${(error as Error).message}`);
    return tokens;
  }
  log(`SIGHUP: reloaded ${reloaded.count} tokens from ${reloaded.file}`);
  for (const warning of reloaded.warnings) log(`warning: ${warning}`);
  return reloaded;
}

/**
 * SIGHUP: the https listener presents the certificate and key now in their files to every new
 * connection; the connections and sessions already open keep theirs. A file that does not load
 * (half written, a key of another certificate) leaves the old pair in place.
 */
function reloadCertificate(
  https: HttpsListener,
  certificate: ServerCertificate,
  clientCa: string | undefined,
  log: (line: string) => void,
): void {
  let fresh: ServerCertificate;
  try {
    fresh = certificate.reload();
  } catch (error) {
    log(`SIGHUP: kept the certificate: ${(error as Error).message}`);
    return;
  }
  https.server.setSecureContext({
    cert: fresh.cert,
    key: fresh.key,
    minVersion: "TLSv1.3",
    ...(clientCa === undefined ? {} : { ca: clientCa }),
  });
  log(
    `SIGHUP: new connections get the certificate in ${fresh.certFile}, SHA-256 ${fingerprintOf(fresh.cert)}`,
  );
  for (const warning of fresh.warnings) log(`warning: ${warning}`);
}

/** The certificate the https listener presents, and how the status line describes it. */
interface ListenerCertificate {
  cert: string;
  key: string;
  description: string;
}

async function certificateFor(
  https: HttpsServeOptions,
  log: (line: string) => void,
): Promise<ListenerCertificate> {
  const { certificate } = https;
  if (certificate.kind === "files") {
    return { cert: certificate.cert, key: certificate.key, description: certificate.certFile };
  }
  try {
    const dev = await loadDevCertificate(certificate.certDir, certificate.extraHosts, log);
    return {
      cert: dev.cert,
      key: dev.key,
      description: `${dev.certPath} (development, for ${dev.hosts.join(", ")}; clients pin it with --ca)`,
    };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(
      `cannot load or create the development certificate in ${certificate.certDir}: ${(error as Error).message}`,
      EXIT.failed,
      { cause: error },
    );
  }
}

async function startHttps(
  hub: Hub,
  unix: UnixListener,
  options: ServeOptions & { https: HttpsServeOptions },
  tls: ListenerCertificate,
  authenticate: Authenticate | undefined,
  log: (line: string) => void,
  onRefused: NonNullable<ListenHttpsOptions["onRefused"]>,
  otherRequests: NonNullable<ListenHttpsOptions["otherRequests"]>,
  otherUpgrades: ListenHttpsOptions["otherUpgrades"],
): Promise<HttpsListener> {
  const { https } = options;
  const { host, port } = https.address;
  const listenOptions: ListenHttpsOptions = {
    host,
    port,
    keepAlive: options.keepAlive,
    limits: options.limits,
    cert: tls.cert,
    key: tls.key,
    requireAuth: https.requireAuth,
    allowOrigins: https.allowOrigins,
    trustedProxies: https.trustedProxies,
    log,
    onRefused,
    // Samply applications' task API (/v1/tasks, /v1/sockets, /v1/health) on the same port.
    otherRequests,
    // Mles clients (--mles) on the same port.
    ...(otherUpgrades === undefined ? {} : { otherUpgrades }),
    ...(https.maxConnections === undefined ? {} : { maxConnections: https.maxConnections }),
    ...(https.maxConnectionsPerAddress === undefined
      ? {}
      : { maxConnectionsPerAddress: https.maxConnectionsPerAddress }),
    ...(https.maxSessions === undefined ? {} : { maxSessions: https.maxSessions }),
    ...(https.maxSessionsPerIdentity === undefined
      ? {}
      : { maxSessionsPerIdentity: https.maxSessionsPerIdentity }),
    ...(https.maxBodySize === undefined ? {} : { maxBodySize: https.maxBodySize }),
    pubsubHttp: options.pubsub.http,
    ...(https.clientCa === undefined ? {} : { ca: https.clientCa.pem }),
    ...(authenticate === undefined ? {} : { authenticate }),
  };
  try {
    return await listenHttps(hub, listenOptions);
  } catch (error) {
    await unix.close();
    await hub.close();
    throw new CliError(`cannot listen on https://${host}:${port}: ${(error as Error).message}`, EXIT.failed, {
      cause: error,
    });
  }
}

/** `beamhub serve`: its options and usage. */
export const serveCommand: CommandSpec = {
  name: "serve",
  operands: [],
  summary:
    "run a hub (Unix socket, mode 0600, and https://127.0.0.1:8443; certificates, mutual TLS, tokens and access rules: serve --help)",
  description:
    "Runs a hub on a Unix socket (mode 0600 unless --socket-mode; a stale socket file from a crashed hub " +
    "is replaced, a live hub is not) and on https:// (HTTP/2 with a WebSocket fallback, and plain HTTP " +
    "for curl).\n" +
    "Registers hub.info. Prints one line per listener: its address, the certificate with its SHA-256 " +
    "fingerprint (compare: openssl x509 -noout -fingerprint -sha256 -in cert.pem) and who may connect. " +
    'Stops on SIGINT/SIGTERM; calls in flight then fail with "hub is closed". SIGHUP reloads --tokens.',
  groups: SERVE_GROUPS,
  instead: SERVE_INSTEAD,
  epilogue: `config file (--config FILE, env BEAMHUB_CONFIG): JSON whose keys are the options' names, e.g.
  {"listen-https": "0.0.0.0:8443", "tls-cert": "hub.pem", "tls-key": "hub.key",
   "tokens": "tokens.txt", "require-auth": true, "access": [...]}
  Flags win over BEAMHUB_* variables, which win over the file; a key that is no option is an
  error. Paths are relative to the working directory. Only the file can hold access rules: a list of
    {"who": "alice" | ["bob", "ci-*"], "anonymous": true,
     "call": [PATTERNS], "register": [PATTERNS]}
  "who" matches identity ids of certificate and token peers ("*" any authenticated peer,
  Unix peers included); "unix:alice" or "unix:1001" a Unix peer by user name or uid;
  "unix-group:staff" or "unix-group:50" a Unix peer by its group or a supplementary group
  (* wildcards in names; unix: entries never match certificate or token peers, and plain
  entries never match Unix peers). "anonymous" matches peers without an identity. Patterns
  are service names where * matches anything and {id} is the peer's id, e.g.
    "access": [{"who": "alice", "call": ["*"], "register": ["*"]},
               {"who": "unix-group:staff", "call": ["*"]},
               {"who": "*", "call": ["public.*", "hub.info"], "register": ["{id}.*"]}]
  With rules, a peer may call (and see) or register only what a rule grants it; refused
  requests fail with EFORBIDDEN. Unix peers running as the hub's user or as root may always
  do everything (they own the socket and the hub's process anyway). Without rules, https
  peers may do everything, and other Unix users nothing.
Exit codes: 2 for a bad option or file (named in the message), 1 when a port cannot be bound.`,
  run: async (input, io) => {
    const config = input.config();
    // The declarations in serve-flags.ts give each of these flags the type ServeFlags says.
    return serve(config, resolveServeOptions(input.values as ServeFlags, config, io.env), io.err);
  },
};
