import type { Cluster } from "../cluster/index.js";
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
}

/** Reads `--cluster URLS` (and `--cluster-name`, `--hub-name`). */
export function clusterServeOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
): ClusterServeOptions | undefined {
  const urls = stringSetting(pick("cluster"));
  const name = stringSetting(pick("cluster-name"));
  const hub = stringSetting(pick("hub-name"));
  if (urls === undefined) {
    const stray = name ?? hub;
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
  return { servers, name: name?.value, hub: hub?.value };
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
