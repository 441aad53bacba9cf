import { readFileSync } from "node:fs";
import type { Cluster, ClusterCredentials, ClusterTls } from "../cluster/index.js";
import { clusterTasks, type Hub, type TaskBroker } from "../index.js";
import { CliError, EXIT } from "./errors.js";
import type { Logger } from "./logger.js";
import { stringSetting, type Setting } from "./settings.js";

/** `serve`'s cluster settings, checked before it listens anywhere. */
export interface ClusterServeOptions {
  /** The NATS servers. */
  readonly servers: string[];
  readonly name: string | undefined;
  readonly hub: string | undefined;
  /** `--cluster-tls-ca/-cert/-key`. */
  readonly tls: ClusterTls | undefined;
  /** `--cluster-creds FILE`, or `--cluster-user` with its password from the environment or a file. */
  readonly credentials: ClusterCredentials | undefined;
}

/** The variable the NATS password of `--cluster-user` may come from (never a flag: argv is public). */
export const CLUSTER_PASSWORD_VARIABLE = "BEAMHUB_CLUSTER_PASSWORD";

/**
 * Reads `--cluster URLS` (and `--cluster-name`, `--hub-name`, the TLS and credential options;
 * the password of `--cluster-user` from `BEAMHUB_CLUSTER_PASSWORD` or `--cluster-password-file`).
 */
export function clusterServeOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
  env: NodeJS.ProcessEnv = process.env,
): ClusterServeOptions | undefined {
  const urls = stringSetting(pick("cluster"));
  const name = stringSetting(pick("cluster-name"));
  const hub = stringSetting(pick("hub-name"));
  const ca = stringSetting(pick("cluster-tls-ca"));
  const cert = stringSetting(pick("cluster-tls-cert"));
  const key = stringSetting(pick("cluster-tls-key"));
  const creds = stringSetting(pick("cluster-creds"));
  const user = stringSetting(pick("cluster-user"));
  const passwordFile = stringSetting(pick("cluster-password-file"));
  const tasks = stringSetting(pick("cluster-tasks"));
  if (urls === undefined) {
    const stray = name ?? hub ?? tasks ?? ca ?? cert ?? key ?? creds ?? user ?? passwordFile;
    if (stray !== undefined) throw new CliError(`${stray.source} needs --cluster URLS`, EXIT.usage);
    return undefined;
  }
  const servers = urls.value
    .split(",")
    .map((url) => url.trim())
    .filter((url) => url !== "");
  for (const server of servers) {
    let url: URL;
    try {
      url = new URL(server.includes("://") ? server : `nats://${server}`);
    } catch (error) {
      throw new CliError(`${urls.source}: "${server}" is not a NATS URL (nats://host:4222)`, EXIT.usage, {
        cause: error,
      });
    }
    if (url.protocol !== "nats:" && url.protocol !== "tls:")
      throw new CliError(`${urls.source}: "${server}" is not a NATS URL (nats://host:4222)`, EXIT.usage);
  }
  if ((cert === undefined) !== (key === undefined))
    throw new CliError(
      `${(cert ?? key)!.source} needs ${cert === undefined ? "--cluster-tls-cert" : "--cluster-tls-key"} too`,
      EXIT.usage,
    );
  const tls =
    ca === undefined && cert === undefined
      ? undefined
      : { ca: ca?.value, cert: cert?.value, key: key?.value };
  return {
    servers,
    name: name?.value,
    hub: hub?.value,
    tls,
    credentials: credentials(creds, user, passwordFile, env),
  };
}

/** What NATS is told this hub is: a credentials file, or a user and password. */
function credentials(
  creds: Setting<string> | undefined,
  user: Setting<string> | undefined,
  passwordFile: Setting<string> | undefined,
  env: NodeJS.ProcessEnv,
): ClusterCredentials | undefined {
  if (creds !== undefined) {
    if (user !== undefined)
      throw new CliError(
        `${creds.source} and ${user.source} are two ways to authenticate: give one`,
        EXIT.usage,
      );
    return { file: creds.value };
  }
  const fromEnv = env[CLUSTER_PASSWORD_VARIABLE];
  if (user === undefined) {
    const stray = passwordFile?.source ?? (fromEnv === undefined ? undefined : CLUSTER_PASSWORD_VARIABLE);
    if (stray !== undefined) throw new CliError(`${stray} needs --cluster-user NAME`, EXIT.usage);
    return undefined;
  }
  if (passwordFile !== undefined) {
    let text: string;
    try {
      text = readFileSync(passwordFile.value, "utf8");
    } catch (error) {
      throw new CliError(
        `${passwordFile.source}: cannot read ${passwordFile.value}: ${(error as Error).message}`,
        EXIT.usage,
        {
          cause: error,
        },
      );
    }
    // One line; the newline an editor adds is not part of it.
    return { user: user.value, password: text.replace(/\r?\n$/, "") };
  }
  if (fromEnv === undefined || fromEnv === "")
    throw new CliError(
      `${user.source} needs its password in ${CLUSTER_PASSWORD_VARIABLE} or --cluster-password-file FILE`,
      EXIT.usage,
    );
  return { user: user.value, password: fromEnv };
}

/**
 * Joins `hub` to the cluster, with `tasks` (when given) kept in the cluster's task bucket; logs
 * one status line, and the cluster's background errors.
 */
export async function startCluster(
  hub: Hub,
  options: ClusterServeOptions,
  log: (line: string) => void,
  logger: Logger,
  tasks?: TaskBroker,
): Promise<Cluster> {
  // Loaded here: only a clustered hub needs the NATS client.
  const { joinCluster } = await import("../cluster/index.js");
  const onError = (error: unknown): void =>
    logger.warn({ err: error }, "cluster: %s", (error as Error).message);
  let cluster: Cluster;
  try {
    cluster = await joinCluster(hub, {
      servers: options.servers,
      name: options.name,
      hub: options.hub,
      tls: options.tls,
      credentials: options.credentials,
      onError,
      extensions: tasks === undefined ? [] : [clusterTasks(tasks, { onError })],
    });
  } catch (error) {
    throw new CliError(`cluster: ${(error as Error).message}`, EXIT.failed, { cause: error });
  }
  log(
    `cluster: hub "${cluster.hub}" of cluster "${cluster.name}" on NATS ${options.servers.join(",")}; ` +
      `other hubs' services appear here with the label beamhub/hub` +
      (tasks === undefined ? "" : `; Samply tasks of ${tasks.hub.id} are shared by the cluster's hubs`),
  );
  return cluster;
}
