import { BeamhubError } from "../base/error.js";

/**
 * A task operation failed. `status` is the HTTP status the REST face answers with — the same
 * codes Samply.Beam uses, so its applications read the failure the way they always did.
 */
export class TaskError extends BeamhubError {
  constructor(
    code: string,
    message: string,
    /** The HTTP status of this failure on the REST face. */
    readonly status: number,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
  }
}

/** A task, result, id, duration or query is malformed (HTTP 400). */
export class InvalidTaskError extends TaskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("EINVALID_TASK", message, 400, options);
  }
}

/** No credentials, or wrong ones, or a message sent on behalf of another application (HTTP 401). */
export class TaskUnauthorizedError extends TaskError {
  constructor(message: string) {
    super("EUNAUTHORIZED", message, 401);
  }
}

/** The application is known but may not see or answer this task (HTTP 403). */
export class TaskForbiddenError extends TaskError {
  constructor(message: string) {
    super("EFORBIDDEN", message, 403);
  }
}

/** No live task has that id (HTTP 404). */
export class TaskNotFoundError extends TaskError {
  constructor(id: string) {
    super("ETASK_NOT_FOUND", `Task not found: ${id}`, 404);
  }
}

/** A live task already has that id (HTTP 409). */
export class TaskExistsError extends TaskError {
  constructor(id: string) {
    super("ETASK_EXISTS", `a task with id ${id} exists and has not expired`, 409);
  }
}

/** Some recipients are on hubs this hub cannot reach (HTTP 424, body: the JSON array of those hub ids). */
export class UnreachableRecipientsError extends TaskError {
  constructor(readonly hubs: readonly string[]) {
    super("EUNREACHABLE", `no route to hub ${hubs.join(", ")}`, 424);
  }

  /** Travels with the error to a remote caller (see `ServiceError.details`). */
  get details(): { hubs: readonly string[] } {
    return { hubs: this.hubs };
  }
}

/** A configured bound was reached: tasks per application, waiters, body size (HTTP 429 or 413). */
export class TaskLimitError extends TaskError {
  constructor(message: string, status: 413 | 429 = 429) {
    super("ELIMIT", message, status);
  }
}

/**
 * A socket task is over before its recipient joined: its ttl passed or its sender went away
 * (HTTP 410, Samply's answer when nobody joins within 60 s).
 */
export class SocketGoneError extends TaskError {
  constructor(message: string) {
    super("ESOCKET_GONE", message, 410);
  }
}

/** A socket request or join without an `Upgrade` header, or over HTTP/2, which cannot upgrade (HTTP 426). */
export class UpgradeRequiredError extends TaskError {
  constructor(message: string) {
    super("EUPGRADE_REQUIRED", message, 426);
  }
}
