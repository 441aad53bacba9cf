import { readFileSync } from "node:fs";
import { join } from "node:path";
import {
  joinFederation,
  serveBroker,
  TrustStore,
  type Broker,
  type FederationSite,
  type Hub,
} from "../index.js";
import { CliError, EXIT } from "./errors.js";
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
}

/** The files of a federation directory, as `--federation DIR` names them. */
export const FEDERATION_FILES = { cert: "hub.pem", key: "hub.key", root: "root.pem" } as const;

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
  return { dir, cert, key, root, broker, proxy, monitoringKey: env.MONITORING_API_KEY };
}

/** The federation's part of `serve`, running. */
export interface ServedFederation {
  /** The site's membership, when this hub is a site. */
  readonly site: FederationSite | undefined;
  /** The sites connected to this hub, when it is the broker (`/v1/health/proxies`). */
  readonly health: Broker["health"] | undefined;
  close(): Promise<void>;
}

/** Makes `hub` the broker, or joins it to the broker as site `id`; logs one status line. */
export async function startFederation(
  hub: Hub,
  id: string,
  options: FederationServeOptions,
  log: (line: string) => void,
): Promise<ServedFederation> {
  if (options.broker === undefined) {
    const broker = await serveBroker(hub);
    log(
      `federation: broker ${id}; site hubs with certificates of ${join(options.dir, FEDERATION_FILES.root)} connect over https`,
    );
    return { site: undefined, health: broker.health, close: () => broker.close() };
  }
  let site: FederationSite;
  try {
    site = await joinFederation(hub, {
      broker: options.broker,
      id,
      cert: options.cert,
      key: options.key,
      root: options.root,
      connection: { proxy: options.proxy },
    });
  } catch (error) {
    throw new CliError(
      `federation: cannot reach the broker at ${options.broker}: ${(error as Error).message}`,
      EXIT.failed,
      {
        cause: error,
      },
    );
  }
  log(
    `federation: site ${id} of the broker at ${options.broker}; other sites' services appear here as NAME@SITE`,
  );
  return { site, health: undefined, close: () => site.close() };
}
