import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import {
  brokerRefusalOf,
  describeBrokerRefusal,
  joinFederation,
  REFUSAL_BACKOFF_DEFAULTS,
  serveBroker,
  serveFederatedTasks,
  SiteTasks,
  TrustStore,
  type Broker,
  type FederationSite,
  type Hub,
  type HttpsListener,
  type ReadinessCheck,
  type TaskBroker,
} from "../index.js";
import { CliError, EXIT } from "./errors.js";
import { loadSealingKeyring, reloadSealingKeyring } from "./sealing-key-files.js";
import { stringSetting, type Setting } from "./settings.js";

/** `serve`'s federation settings, checked before it listens anywhere. */
export interface FederationServeOptions {
  /** The directory of hub.pem, hub.key, root.pem. */
  readonly dir: string;
  readonly cert: string;
  readonly key: string;
  readonly root: string;
  /** The broker to join as a site; undefined: this hub is the broker. */
  readonly broker: string | undefined;
  /** `--proxy`: a URL, `false` for none, undefined for HTTPS_PROXY. */
  readonly proxy: string | false | undefined;
  /** A broker's `/v1/health/proxies/<id>` password: `MONITORING_API_KEY`, as Samply's broker reads it. */
  readonly monitoringKey: string | undefined;
  /** DIR/crl.pem when present: the authority's revocation list (a broker serves it to its sites). */
  readonly crl: string | undefined;
  /** `--refused-retry MS`: a site's longest wait between attempts while the broker refuses it. */
  readonly refusedRetryMs: number;
}

/**
 * The files of a federation directory, as `--federation DIR` names them. `crl.pem` is optional
 * (`beamhub ca crl` writes it); a site creates `seal.key` (0600) on its first start: its X25519
 * key for task bodies sealed to it, kept so that those stored at the broker open after a restart;
 * `seal-retired.json` keeps the keys rotated away until they are dropped (cli/sealing-key-files.ts).
 */
export const FEDERATION_FILES = {
  cert: "hub.pem",
  key: "hub.key",
  root: "root.pem",
  crl: "crl.pem",
  sealingKey: "seal.key",
} as const;

/**
 * Reads `--federation DIR` (and `--broker`, `--proxy`): the three files must be there, and the
 * certificate must verify against root.pem and name `id`.
 */
export function federationServeOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
  id: string,
  env: NodeJS.ProcessEnv,
): FederationServeOptions | undefined {
  const dirSetting = stringSetting(pick("federation"));
  const brokerSetting = stringSetting(pick("broker"));
  const proxySetting = stringSetting(pick("proxy"));
  if (dirSetting === undefined) {
    const stray = brokerSetting ?? proxySetting;
    if (stray !== undefined) throw new CliError(`${stray.source} needs --federation DIR`, EXIT.usage);
    return undefined;
  }
  const dir = dirSetting.value;
  const read = (name: string): string => {
    try {
      return readFileSync(join(dir, name), "utf8");
    } catch (error) {
      throw new CliError(
        `${dirSetting.source} ${dir}: cannot read ${name} (${(error as NodeJS.ErrnoException).code ?? error}); ` +
          "a federation directory holds hub.pem, hub.key and root.pem",
        EXIT.usage,
        { cause: error },
      );
    }
  };
  const cert = read(FEDERATION_FILES.cert);
  const key = read(FEDERATION_FILES.key);
  const root = read(FEDERATION_FILES.root);
  const crl = existsSync(join(dir, FEDERATION_FILES.crl)) ? read(FEDERATION_FILES.crl) : undefined;
  try {
    new TrustStore(root).verify(cert, { hub: id });
  } catch (error) {
    throw new CliError(
      `${dirSetting.source} ${dir}: ${(error as Error).message} (is --id right?)`,
      EXIT.usage,
      {
        cause: error,
      },
    );
  }
  let broker: string | undefined;
  if (brokerSetting !== undefined) {
    try {
      const url = new URL(brokerSetting.value);
      if (url.protocol !== "https:") throw new TypeError("not https://");
      broker = url.href;
    } catch (error) {
      throw new CliError(
        `${brokerSetting.source}: expected https://host:port, got "${brokerSetting.value}"`,
        EXIT.usage,
        {
          cause: error,
        },
      );
    }
  }
  const proxy =
    proxySetting === undefined ? undefined : proxySetting.value === "off" ? false : proxySetting.value;
  const refusedRetryMs = refusedRetryOf(pick("refused-retry"), broker !== undefined);
  return { dir, cert, key, root, broker, proxy, monitoringKey: env.MONITORING_API_KEY, crl, refusedRetryMs };
}

/** `--refused-retry MS`: a whole number of ms, at least 1000 (a refused site must not knock every moment). */
function refusedRetryOf(setting: Setting<unknown> | undefined, site: boolean): number {
  if (setting === undefined) return REFUSAL_BACKOFF_DEFAULTS.maxDelayMs;
  if (!site) throw new CliError(`${setting.source} needs --broker (it is a site's setting)`, EXIT.usage);
  const text = String(setting.value).trim();
  const ms = Number(text);
  if (text === "" || !Number.isInteger(ms) || ms < 1000 || ms > 2 ** 31 - 1)
    throw new CliError(
      `${setting.source} takes a whole number of milliseconds from 1000 up; got ${JSON.stringify(setting.value)}`,
      EXIT.usage,
    );
  return ms;
}

/** The federation's part of `serve`, running. */
export interface ServedFederation {
  /** The site's membership, when this hub is a site. */
  readonly site: FederationSite | undefined;
  /** The sites connected to this hub, when it is the broker (`/v1/health/proxies`). */
  readonly health: Broker["health"] | undefined;
  /**
   * A site's `/readyz` check: ready while its session to the broker is up; else why not (the
   * broker refuses its certificate, and why; or it is reconnecting).
   */
  readonly readiness: ReadinessCheck | undefined;
  /** Re-reads DIR/crl.pem (SIGHUP) and applies it; a line for the log. */
  reload(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Makes `hub` the broker, or joins it to the broker as site `id`; logs one status line. A broker
 * given its `https` listener checks each site's certificate against the revocation list as the
 * connection opens, and cuts a site's connections when a list revoking it is loaded (SIGHUP).
 */
export async function startFederation(
  hub: Hub,
  id: string,
  options: FederationServeOptions,
  log: (line: string) => void,
  tasks: TaskBroker,
  https?: HttpsListener,
): Promise<ServedFederation> {
  const crlFile = join(options.dir, FEDERATION_FILES.crl);
  const readCrl = (): string | undefined => (existsSync(crlFile) ? readFileSync(crlFile, "utf8") : undefined);
  if (options.broker === undefined) {
    let broker: Broker;
    try {
      broker = await serveBroker(hub, {
        root: options.root,
        cert: options.cert,
        crl: options.crl,
        ...(https === undefined ? {} : { listener: https }),
      });
    } catch (error) {
      throw new CliError(`federation: ${crlFile}: ${(error as Error).message}`, EXIT.usage, { cause: error });
    }
    const tasksService = await serveFederatedTasks(hub, tasks, broker);
    log(
      `federation: broker ${id}; site hubs with certificates of ${join(options.dir, FEDERATION_FILES.root)} connect over https; ` +
        `their tasks are kept here (sealed)${options.crl === undefined ? "" : `; revocation list ${crlFile}`}`,
    );
    return {
      site: undefined,
      health: broker.health,
      readiness: undefined,
      reload: async () => {
        const crl = readCrl();
        if (crl === undefined) return `federation: no ${crlFile} to reload`;
        return `federation: ${crlFile}: ${await broker.setRevocationList(crl)} revoked certificates, served to the sites`;
      },
      close: async () => {
        await tasksService.unregister();
        await broker.close();
      },
    };
  }
  const sealingKey = loadSealingKeyring(options.dir);
  let site: FederationSite;
  try {
    site = await joinFederation(hub, {
      broker: options.broker,
      id,
      cert: options.cert,
      key: options.key,
      root: options.root,
      connection: { proxy: options.proxy },
      sealingKey,
      ...(options.crl === undefined ? {} : { crl: options.crl }),
      onWarning: log,
      refusedRetry: {
        firstDelayMs: Math.min(REFUSAL_BACKOFF_DEFAULTS.firstDelayMs, options.refusedRetryMs),
        maxDelayMs: options.refusedRetryMs,
      },
      // Once per change of the broker's verdict: an error while it stands, a line when it ends.
      onBrokerRefusal: (refusal) =>
        log(
          refusal === undefined
            ? `federation: the broker at ${options.broker} accepts this site again`
            : `error: federation: ${describeBrokerRefusal(refusal)} (${refusal.code}); retrying at most every ` +
                `${Math.round(options.refusedRetryMs / 1000)} s (--refused-retry)`,
        ),
    });
  } catch (error) {
    // A refusal says what to do about it; anything else is the network's or the broker's.
    const refusal = brokerRefusalOf(error);
    throw new CliError(
      refusal === undefined
        ? `federation: cannot reach the broker at ${options.broker}: ${(error as Error).message}`
        : `federation: ${describeBrokerRefusal(refusal)} (${options.broker}: ${refusal.message})`,
      EXIT.failed,
      { cause: error },
    );
  }
  tasks.federate(
    new SiteTasks(site, {
      onRejected: (error) => log(`federation: refused from the broker: ${error.message}`),
    }),
  );
  log(
    `federation: site ${id} of the broker at ${options.broker}; other sites' services appear here as NAME@SITE; ` +
      "tasks are kept at the broker, their bodies sealed",
  );
  return {
    site,
    health: undefined,
    readiness: { name: "federation broker", check: () => brokerReadiness(site, options.broker!) },
    reload: async () => {
      const cert = readFileSync(join(options.dir, FEDERATION_FILES.cert), "utf8");
      const key = readFileSync(join(options.dir, FEDERATION_FILES.key), "utf8");
      const sealing = reloadSealingKeyring(options.dir, site.keys.sealing);
      if (sealing !== undefined) log(sealing);
      let renewed = "";
      if (cert !== site.keys.self.chain) {
        site.reload({ cert, key });
        renewed = `new tunnels and connections use the renewed ${join(options.dir, FEDERATION_FILES.cert)}; `;
      }
      const crl = readCrl();
      const local = crl === undefined ? 0 : await site.addRevocationList(crl);
      const fetched = await site.refreshRevocations();
      return `federation: ${renewed}revocation lists applied (${crlFile}: ${crl === undefined ? "none" : local}, the broker's: ${fetched} revoked)`;
    },
    close: () => site.close(),
  };
}

/** What `/readyz` says of a site's session to its broker. */
function brokerReadiness(site: FederationSite, url: string): true | string {
  const status = site.brokerStatus();
  switch (status.state) {
    case "connected":
      return true;
    case "refused": {
      const next =
        status.retryAt === undefined
          ? ""
          : `; next attempt in ${Math.max(0, Math.round((status.retryAt - Date.now()) / 1000))} s`;
      return `${describeBrokerRefusal(status.refusal!)}${next}`;
    }
    case "reconnecting":
      return `reconnecting to the broker at ${url}`;
    case "closed":
      return `the session to the broker at ${url} is closed`;
  }
}
