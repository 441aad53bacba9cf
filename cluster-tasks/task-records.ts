/**
 * The keys and records of a cluster's task bucket (PROTOCOL.md, "Cluster", "Tasks"): what every
 * hub of the cluster writes and reads, so that any hub's Samply REST face serves the same tasks.
 * Records are JSON with a version; decoding checks every field and that the record matches its key.
 * @module
 */
import { fromSubjectToken, subjectToken } from "../cluster/subjects.js";
import { InvalidTaskError } from "../tasks/errors.js";
import { checkTaskId, parseResult, parseTask, type Task, type TaskResult } from "../tasks/messages.js";
import { TaskRecordError } from "./errors.js";

/** The version of the records below; a record of another version is skipped. */
export const RECORD_VERSION = 1;

/** A task as the bucket keeps it: without `ttl` (it would go stale), with its absolute expiry. */
export interface TaskRecord {
  readonly task: Omit<Task, "ttl">;
  /** When it expires, in ms since the epoch (hubs' clocks are assumed within a second of each other). */
  readonly expires: number;
  /** The name of the cluster hub it was posted at: that hub removes it when it expires. */
  readonly hub: string;
}

/** What a key of the bucket names. */
export type TaskKey =
  | { kind: "task"; id: string }
  | { kind: "result"; id: string; worker: string }
  | { kind: "id"; hubId: string };

/** The bucket of cluster `<ns>` (the registry's bucket name, `beam_<ns>`, and `_tasks`). */
export function taskBucket(registryBucket: string): string {
  return `${registryBucket}_tasks`;
}

/** `task.<id>`: the task (ids are lower-case UUIDs, already valid key tokens). */
export function taskKey(id: string): string {
  return `task.${id}`;
}

/** `result.<id>.<worker>`: one worker's result, so that workers never overwrite each other. */
export function resultKey(id: string, worker: string): string {
  return `result.${id}.${subjectToken(worker)}`;
}

/** `result.<id>.*`: every result of a task. */
export function resultKeys(id: string): string {
  return `result.${id}.*`;
}

/** `id.<hub id>`: some hub of the cluster serves Samply hub id `<hub id>` (so its apps are reachable). */
export function hubIdKey(hubId: string): string {
  return `id.${subjectToken(hubId)}`;
}

/** What `key` names, or undefined for a key this version does not know (skipped). */
export function parseTaskKey(key: string): TaskKey | undefined {
  const parts = key.split(".");
  try {
    if (parts.length === 2 && parts[0] === "task") return { kind: "task", id: checkTaskId(parts[1]) };
    if (parts.length === 3 && parts[0] === "result")
      return { kind: "result", id: checkTaskId(parts[1]), worker: fromSubjectToken(parts[2]!) };
    if (parts.length === 2 && parts[0] === "id") return { kind: "id", hubId: fromSubjectToken(parts[1]!) };
  } catch {
    return undefined;
  }
  return undefined;
}

export function encodeTaskRecord(record: TaskRecord): string {
  return JSON.stringify({ v: RECORD_VERSION, hub: record.hub, expires: record.expires, task: record.task });
}

export function encodeResultRecord(result: TaskResult): string {
  return JSON.stringify({ v: RECORD_VERSION, result });
}

export function encodeHubIdRecord(hub: string): string {
  return JSON.stringify({ v: RECORD_VERSION, hub });
}

/** Reads a task record stored under `key` (`task.<id>`); ids must belong to `broker`. */
export function decodeTaskRecord(key: string, bytes: Uint8Array, broker: string): TaskRecord {
  const object = recordOf(key, bytes);
  const { hub, expires, task } = object;
  if (typeof hub !== "string" || hub === "") throw new TaskRecordError(key, '"hub" must be a hub name');
  if (typeof expires !== "number" || !Number.isSafeInteger(expires) || expires < 0)
    throw new TaskRecordError(key, '"expires" must be ms since the epoch');
  if (typeof task !== "object" || task === null || Array.isArray(task))
    throw new TaskRecordError(key, '"task" must be an object');
  // parseTask checks every field as at the REST face; the ttl it needs is not stored (see expires).
  const { ttlMs, ...checked } = asRecordError(key, () => parseTask({ ...task, ttl: "1" }, broker));
  void ttlMs;
  if (key !== taskKey(checked.id)) throw new TaskRecordError(key, `holds task ${checked.id}`);
  return { task: checked, expires, hub };
}

/** Reads a result record stored under `key` (`result.<id>.<worker>`). */
export function decodeResultRecord(key: string, bytes: Uint8Array, broker: string): TaskResult {
  const object = recordOf(key, bytes);
  const result = asRecordError(key, () => parseResult(object.result, broker));
  if (key !== resultKey(result.task, result.from))
    throw new TaskRecordError(key, `holds the result of ${result.from} for task ${result.task}`);
  return result;
}

/** Reads a hub id record: the name of the hub that wrote it. */
export function decodeHubIdRecord(key: string, bytes: Uint8Array): string {
  const { hub } = recordOf(key, bytes);
  if (typeof hub !== "string" || hub === "") throw new TaskRecordError(key, '"hub" must be a hub name');
  return hub;
}

function recordOf(key: string, bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    throw new TaskRecordError(key, `not UTF-8 JSON: ${(error as Error).message}`, { cause: error });
  }
  if (typeof value !== "object" || value === null || Array.isArray(value))
    throw new TaskRecordError(key, "not a JSON object");
  const object = value as Record<string, unknown>;
  if (object.v !== RECORD_VERSION)
    throw new TaskRecordError(key, `version ${JSON.stringify(object.v)}, this hub reads ${RECORD_VERSION}`);
  return object;
}

function asRecordError<T>(key: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InvalidTaskError) throw new TaskRecordError(key, error.message, { cause: error });
    throw error;
  }
}
