import { mkdir } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { listenTasksHttp, serveTasks, TASK_SERVICE, TaskBroker, TaskError, type Hub } from "../index.js";
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
  /** The plain-HTTP task listener, if any (`--listen-http`). */
  readonly http: ListenAddress | undefined;
  /** The kv log file, or undefined to keep tasks in memory (`--tasks-file off`). */
  readonly file: string | undefined;
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
  const apiKeys = { ...appsKey(file.apps), ...AppKeys.fromEnvironment(env) };
  // Without applications nobody can use tasks: nothing to keep, and no file to claim.
  const defaultFile =
    Object.keys(apiKeys).length === 0 ? undefined : join(homedir(), ".beamhub", `tasks-${id}.kvlog`);
  return {
    id,
    apiKeys,
    http,
    file: tasksFile === undefined ? defaultFile : tasksFile.value === "off" ? undefined : tasksFile.value,
  };
}

function appsKey(apps: unknown): Record<string, string> {
  if (apps === undefined) return {};
  if (typeof apps !== "object" || apps === null || Array.isArray(apps)) {
    throw new CliError('config key apps must be an object: {"<name>": "<key>", ...}', EXIT.usage);
  }
  for (const [name, key] of Object.entries(apps)) {
    if (typeof key !== "string" || key === "")
      throw new CliError(`config key apps.${name} must be a non-empty string`, EXIT.usage);
  }
  return apps as Record<string, string>;
}

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
    broker = await TaskBroker.open({ id: options.id, apiKeys: options.apiKeys, file: options.file });
  } catch (error) {
    if (error instanceof TaskError)
      throw new CliError(`tasks: ${error.message}`, EXIT.usage, { cause: error });
    throw error;
  }
  const registration = await serveTasks(hub, broker);
  const http = options.http === undefined ? undefined : await listenTasksHttp(broker, options.http);
  const apps = broker.keys.apps;
  log(
    `tasks: hub id ${options.id}; ${apps.length === 0 ? "no applications (set APP_<name>_KEY=<key>)" : `applications ${apps.join(", ")}`}; ` +
      `service "${TASK_SERVICE}"` +
      (http === undefined
        ? ""
        : `; REST on http://${options.http!.host.includes(":") ? `[${options.http!.host}]` : options.http!.host}:${http.port}/v1/tasks`) +
      `; ${options.file === undefined ? "in memory only" : `kept in ${options.file}`}`,
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
