import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import {
  BrokerUnavailableError,
  ClusterTasksUnavailableError,
  listenTasksHttp,
  serveTasks,
  TASK_SERVICE,
  TaskBroker,
  TaskError,
  type Hub,
  type TaskBrokerLimits,
  type TaskFederation,
} from "../index.js";
import { AppKeys, isLoopbackHost, parseHubId } from "../internal.js";
import { CliError, EXIT } from "./errors.js";
import { parseListenAddress, type ListenAddress } from "./listen-address.js";
import { stringSetting, type Setting } from "./settings.js";

/** The task broker's settings, checked before `serve` listens anywhere. */
export interface TaskServeOptions {
  /** The hub's id in Samply's terms (`--id`). */
  readonly id: string;
  /** Application keys by name: the config file's `apps`, then `APP_<name>_KEY` variables over them. */
  readonly apiKeys: Readonly<Record<string, string>>;
  /** Identities that act as an application without its key: the config file's `apps.<name>.identities`. */
  readonly identities: Readonly<Record<string, readonly string[]>>;
  /** The broker's bounds from the config file's `taskLimits` (the rest keep their defaults). */
  readonly limits: Partial<TaskBrokerLimits>;
  /** The plain-HTTP task listener, if any (`--listen-http`). */
  readonly http: ListenAddress | undefined;
  /** The kv log file, or undefined to keep tasks in memory (`--tasks-file off`). */
  readonly file: string | undefined;
  /**
   * This hub is a federation's broker (`--federation` without `--broker`): it stores the tasks
   * of every site (their recipients are on other hubs), in a log file by default.
   */
  readonly federationBroker: boolean;
  /** This hub is a site of a federation (`--federation` and `--broker`): its tasks live at the broker. */
  readonly federationSite: boolean;
  /**
   * This hub joins a cluster (`--cluster`), has applications, is not part of a federation and
   * was not told `--cluster-tasks off`: its tasks live in the cluster's JetStream bucket, shared
   * with the other hubs.
   */
  readonly clusterShared: boolean;
}

export const DEFAULT_HUB_ID = "beamhub.local";

/**
 * Resolves the task options. A bad id, a non-loopback plain-HTTP address or a malformed `apps`
 * key is a usage error naming the setting.
 */
export function taskServeOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
  file: Readonly<Record<string, unknown>>,
  env: NodeJS.ProcessEnv,
): TaskServeOptions {
  const idSetting = stringSetting(pick("id"));
  const id = idSetting?.value ?? DEFAULT_HUB_ID;
  try {
    parseHubId(id);
  } catch (error) {
    const reason = error instanceof TaskError ? error.message : String(error);
    throw new CliError(
      `${idSetting?.source ?? "--id"}: ${reason} (labels are letters, digits or -)`,
      EXIT.usage,
    );
  }
  const httpSetting = stringSetting(pick("listen-http"));
  const http = httpSetting === undefined ? undefined : parseListenAddress(httpSetting);
  if (http !== undefined && !isLoopbackHost(http.host)) {
    throw new CliError(
      `${httpSetting!.source} ${http.host}: the plain-HTTP task API listens on loopback only (application keys travel in clear); ` +
        "reach it from other machines through the https listener",
      EXIT.usage,
    );
  }
  const tasksFile = stringSetting(pick("tasks-file"));
  const apps = appsKey(file.apps);
  const apiKeys = { ...apps.keys, ...AppKeys.fromEnvironment(env) };
  const federationBroker = pick("federation") !== undefined && pick("broker") === undefined;
  const federationSite = pick("federation") !== undefined && pick("broker") !== undefined;
  const hasApps = Object.keys(apiKeys).length > 0 || Object.keys(apps.identities).length > 0;
  const clusterShared =
    pick("cluster") !== undefined &&
    clusterTasksOn(stringSetting(pick("cluster-tasks"))) &&
    hasApps &&
    !federationBroker &&
    !federationSite;
  // Without applications nobody can use tasks: nothing to keep, and no file to claim. A broker
  // keeps its sites' tasks; a cluster keeps them in its bucket.
  const defaultFile =
    clusterShared || (!federationBroker && !hasApps)
      ? undefined
      : join(homedir(), ".beamhub", `tasks-${id}.kvlog`);
  return {
    id,
    apiKeys,
    identities: apps.identities,
    limits: taskLimits(file.taskLimits),
    http,
    file: tasksFile === undefined ? defaultFile : tasksFile.value === "off" ? undefined : tasksFile.value,
    federationBroker,
    federationSite,
    clusterShared,
  };
}

/** `--cluster-tasks on|off` (on when not given); anything else is a usage error naming it. */
function clusterTasksOn(setting: Setting<string> | undefined): boolean {
  if (setting === undefined || setting.value === "on") return true;
  if (setting.value === "off") return false;
  throw new CliError(`${setting.source}: "${setting.value}" is neither on nor off`, EXIT.usage);
}

/**
 * The config file's `apps`: each application's key as a string (`{"app1": "secret"}`), or an
 * object with an optional `key` and `identities` (`{"app1": {"identities": ["unix:alice"]}}`).
 */
function appsKey(apps: unknown): {
  keys: Record<string, string>;
  identities: Record<string, readonly string[]>;
} {
  const keys: Record<string, string> = {};
  const identities: Record<string, readonly string[]> = {};
  if (apps === undefined) return { keys, identities };
  if (typeof apps !== "object" || apps === null || Array.isArray(apps)) {
    throw new CliError(
      'config key apps must be an object: {"<name>": "<key>" or {"key": "<key>", "identities": ["unix:<user>", ...]}, ...}',
      EXIT.usage,
    );
  }
  for (const [name, value] of Object.entries(apps as Record<string, unknown>)) {
    if (typeof value === "string" && value !== "") {
      keys[name] = value;
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw new CliError(`config key apps.${name} must be a non-empty string or an object`, EXIT.usage);
    const { key, identities: ids, ...rest } = value as Record<string, unknown>;
    const unknown = Object.keys(rest);
    if (unknown.length > 0)
      throw new CliError(
        `config key apps.${name}: unknown field ${unknown[0]} (key, identities)`,
        EXIT.usage,
      );
    if (key !== undefined) {
      if (typeof key !== "string" || key === "")
        throw new CliError(`config key apps.${name}.key must be a non-empty string`, EXIT.usage);
      keys[name] = key;
    }
    if (ids !== undefined) {
      if (!Array.isArray(ids) || ids.some((id) => typeof id !== "string" || id === ""))
        throw new CliError(
          `config key apps.${name}.identities must be a list of identities, e.g. ["unix:alice", "mtls:worker-1", "token:ci"]`,
          EXIT.usage,
        );
      identities[name] = ids as string[];
    }
  }
  return { keys, identities };
}

/** The bounds `taskLimits` may set, each a positive whole number (bytes, counts, ms). */
const LIMIT_KEYS: readonly (keyof TaskBrokerLimits)[] = [
  "maxTasksPerApp",
  "maxTasks",
  "maxWaiters",
  "maxBodyBytes",
  "maxSocketsPerApp",
  "maxPendingSockets",
  "socketBufferBytes",
  "socketTtlMs",
];

/** The config file's `taskLimits`, e.g. `{"maxSocketsPerApp": 20, "socketTtlMs": 30000}`. */
function taskLimits(value: unknown): Partial<TaskBrokerLimits> {
  if (value === undefined) return {};
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new CliError(`config key taskLimits must be an object: {"${LIMIT_KEYS[0]}": N, ...}`, EXIT.usage);
  const limits: Partial<TaskBrokerLimits> = {};
  for (const [key, limit] of Object.entries(value as Record<string, unknown>)) {
    if (!LIMIT_KEYS.includes(key as keyof TaskBrokerLimits))
      throw new CliError(
        `config key taskLimits.${key} is unknown (one of ${LIMIT_KEYS.join(", ")})`,
        EXIT.usage,
      );
    if (typeof limit !== "number" || !Number.isSafeInteger(limit) || limit < 1)
      throw new CliError(`config key taskLimits.${key} must be a positive whole number`, EXIT.usage);
    limits[key as keyof TaskBrokerLimits] = limit;
  }
  return limits;
}

const notYet = (): Promise<never> =>
  Promise.reject(new BrokerUnavailableError("this site has not joined its federation yet; try again"));
const notJoinedYet: TaskFederation = {
  post: notYet,
  tasks: notYet,
  task: notYet,
  results: notYet,
  putResult: notYet,
};
const notInClusterYet = (): Promise<never> =>
  Promise.reject(new ClusterTasksUnavailableError("this hub has not joined its cluster yet; try again"));
const clusterNotJoinedYet: TaskFederation = {
  post: notInClusterYet,
  tasks: notInClusterYet,
  task: notInClusterYet,
  results: notInClusterYet,
  putResult: notInClusterYet,
};

/** The running task broker of `serve`, and how to stop it. */
export interface ServedTasks {
  readonly broker: TaskBroker;
  close(): Promise<void>;
}

/**
 * Opens the task broker (reading its log back), offers it as the `tasks` service on `hub`, and
 * opens the plain-HTTP listener when asked; logs one status line.
 */
export async function startTasks(
  hub: Hub,
  options: TaskServeOptions,
  log: (line: string) => void,
): Promise<ServedTasks> {
  if (options.file !== undefined) await mkdir(dirname(options.file), { recursive: true, mode: 0o700 });
  let broker: TaskBroker;
  try {
    broker = await TaskBroker.open({
      id: options.id,
      apiKeys: options.apiKeys,
      identities: options.identities,
      limits: options.limits,
      file: options.file,
      // The sites check their recipients' certificates before they seal (424 there).
      ...(options.federationBroker ? { reachable: () => true } : {}),
    });
  } catch (error) {
    if (error instanceof TaskError)
      throw new CliError(`tasks: ${error.message}`, EXIT.usage, { cause: error });
    throw error;
  }
  // A site's tasks live at the broker: until the site has joined (startFederation), 503 rather
  // than tasks kept here that nobody else would see.
  if (options.federationSite) broker.federate(notJoinedYet);
  // The same for a hub of a cluster, until startCluster has opened the cluster's task bucket.
  if (options.clusterShared) broker.federate(clusterNotJoinedYet);
  const registration = await serveTasks(hub, broker);
  const http = options.http === undefined ? undefined : await listenTasksHttp(broker, options.http);
  const apps = [...new Set([...broker.keys.apps, ...broker.identities.apps])];
  log(
    `tasks: hub id ${options.id}; ${apps.length === 0 ? "no applications (set APP_<name>_KEY=<key>)" : `applications ${apps.join(", ")}`}; ` +
      `service "${TASK_SERVICE}"` +
      (http === undefined
        ? ""
        : `; REST on http://${options.http!.host.includes(":") ? `[${options.http!.host}]` : options.http!.host}:${http.port}/v1/tasks`) +
      `; ${options.clusterShared ? "kept in the cluster" : options.file === undefined ? "in memory only" : `kept in ${options.file}`}`,
  );
  return {
    broker,
    close: async () => {
      await http?.close();
      await registration.unregister().catch(() => {});
      await broker.close();
    },
  };
}
