import { checkAppOrHubId } from "./beam-id.js";
import { parseDuration } from "./duration.js";
import { InvalidTaskError } from "./errors.js";

/** A worker's progress on a task. `claimed` says "I'm on it"; the others are outcomes. */
export type WorkStatus = "claimed" | "tempfailed" | "permfailed" | "succeeded";

export const WORK_STATUSES: readonly WorkStatus[] = ["claimed", "tempfailed", "permfailed", "succeeded"];

/** Retry advice for workers; the hub stores and returns it, never acts on it (as Samply.Beam). */
export type FailureStrategy = "discard" | { retry: { backoff_millisecs: number; max_tries: number } };

/** A task as applications send and receive it (Samply.Beam's JSON shape). */
export interface Task {
  /** A UUID chosen by the sender. */
  id: string;
  from: string;
  to: string[];
  /** Opaque to the hub; Samply sends a string (often JSON or base64 inside). */
  body: string;
  /** On the way in: a duration (`"30s"`, bare numbers are seconds). On the way out: whole seconds left. */
  ttl: string;
  failure_strategy: FailureStrategy;
  metadata: unknown;
}

/** One worker's result for one task. */
export interface TaskResult {
  from: string;
  to: string[];
  /** The task's id. */
  task: string;
  status: WorkStatus;
  body?: string;
  metadata: unknown;
}

/** A task as posted, with its ttl turned into milliseconds. */
export interface TaskSubmission extends Omit<Task, "ttl"> {
  ttlMs: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function record(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidTaskError(`${what} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Checks a UUID, returning it in lower case (Samply compares parsed UUIDs, so case does not matter). */
export function checkTaskId(id: unknown, what = "task id"): string {
  if (typeof id !== "string" || !UUID.test(id))
    throw new InvalidTaskError(`${what} must be a UUID, got ${JSON.stringify(id)}`);
  return id.toLowerCase();
}

function recipients(value: unknown, broker: string): string[] {
  if (!Array.isArray(value)) throw new InvalidTaskError(`"to" must be an array of ids`);
  return value.map((id) => checkAppOrHubId(id, broker).id);
}

function body(value: unknown): string {
  if (value === undefined || value === null) return "";
  if (typeof value !== "string") throw new InvalidTaskError(`"body" must be a string or null`);
  return value;
}

function failureStrategy(value: unknown): FailureStrategy {
  if (value === "discard") return "discard";
  const retry =
    typeof value === "object" && value !== null ? (value as { retry?: unknown }).retry : undefined;
  if (typeof retry === "object" && retry !== null) {
    const { backoff_millisecs: backoff, max_tries: tries } = retry as Record<string, unknown>;
    if (
      Number.isSafeInteger(backoff) &&
      Number.isSafeInteger(tries) &&
      (backoff as number) >= 0 &&
      (tries as number) >= 0
    ) {
      return { retry: { backoff_millisecs: backoff as number, max_tries: tries as number } };
    }
  }
  throw new InvalidTaskError(
    `"failure_strategy" must be "discard" or {"retry":{"backoff_millisecs":N,"max_tries":N}}`,
  );
}

function required(object: Record<string, unknown>, field: string): unknown {
  if (!(field in object)) throw new InvalidTaskError(`"${field}" is required`);
  return object[field];
}

/** Reads a posted task (extra fields are ignored, as Samply does). */
export function parseTask(value: unknown, broker: string): TaskSubmission {
  const object = record(value, "a task");
  return {
    id: checkTaskId(required(object, "id")),
    from: checkAppOrHubId(required(object, "from"), broker).id,
    to: recipients(required(object, "to"), broker),
    body: body(object.body),
    ttlMs: parseDuration(required(object, "ttl"), "s", "ttl"),
    failure_strategy: failureStrategy(required(object, "failure_strategy")),
    metadata: required(object, "metadata"),
  };
}

/** Reads a result (its `body` is optional whatever the status, as in Samply's code). */
export function parseResult(value: unknown, broker: string): TaskResult {
  const object = record(value, "a result");
  const status = required(object, "status");
  if (!WORK_STATUSES.includes(status as WorkStatus)) {
    throw new InvalidTaskError(
      `"status" must be one of ${WORK_STATUSES.join(", ")}, got ${JSON.stringify(status)}`,
    );
  }
  const result: TaskResult = {
    from: checkAppOrHubId(required(object, "from"), broker).id,
    to: recipients(required(object, "to"), broker),
    task: checkTaskId(required(object, "task")),
    status: status as WorkStatus,
    metadata: required(object, "metadata"),
  };
  if (object.body !== undefined && object.body !== null) result.body = body(object.body);
  return result;
}
