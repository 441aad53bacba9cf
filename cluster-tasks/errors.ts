import { TaskError } from "../tasks/errors.js";

/**
 * A record of the cluster's task bucket cannot be read: not JSON, another version, a field of the
 * wrong shape, or a body that does not match its key. The record is skipped (reported to
 * `onError`), never served and never a crash: a hub of a newer version, or a hand-written key,
 * must not take the others down.
 */
export class TaskRecordError extends TaskError {
  constructor(
    /** The KV key of the record. */
    readonly key: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super("ETASK_RECORD", `cluster task record ${key}: ${message}`, 502, options);
  }
}

/**
 * The cluster's task bucket could not be read or written in time (NATS or JetStream unavailable,
 * e.g. while a NATS node is replaced): HTTP 503, try again. Nothing was half-done that a retry
 * would break: writes are conditional on the revision they read.
 */
export class ClusterTasksUnavailableError extends TaskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ECLUSTER_TASKS_UNAVAILABLE", message, 503, options);
  }
}
