/**
 * The message model's errors: what a call, a channel or a byte stream can fail with. Each
 * `BeamhubError` class here except `ServiceError` (a handler's own error) travels to a peer as
 * itself: wire/error-info.ts finds them by reading this module, so a class added here needs
 * nothing else to cross a transport, and the entries export it through wire/error-classes.ts.
 * @module
 */
import { BeamhubError } from "../base/error.js";

export { BeamhubError };

/** A service name or label is not valid (see `validateName`). */
export class InvalidNameError extends BeamhubError {
  constructor(message: string) {
    super("EINVALID_NAME", message);
  }
}

/** An argument or option is outside what the API accepts. */
export class InvalidArgumentError extends BeamhubError {
  constructor(message: string) {
    super("EINVALID_ARGUMENT", message);
  }
}

/** Nobody serves the called name (or no instance matches the requested labels). */
export class ServiceNotFoundError extends BeamhubError {
  constructor(
    readonly service: string,
    detail = "",
  ) {
    super("ESERVICE_NOT_FOUND", `no such service: "${service}"${detail}`);
  }
}

/** The call did not complete before its deadline. */
export class CallTimeoutError extends BeamhubError {
  constructor(
    readonly service: string,
    readonly timeoutMs: number,
  ) {
    super("ETIMEOUT", `call to "${service}" timed out after ${timeoutMs} ms`);
  }

  /**
   * The error for a deadline that its timer found passed. Its stack would show only the timer
   * (no frame of the caller is left by then), and capturing it was a fifth of the CPU when
   * 100 000 calls timed out together (bench/timeouts.ts), so it has none: just the message.
   */
  static expired(service: string, timeoutMs: number): CallTimeoutError {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    try {
      return new CallTimeoutError(service, timeoutMs);
    } finally {
      Error.stackTraceLimit = limit;
    }
  }
}

/** The caller's AbortSignal fired before the call completed. */
export class CallAbortedError extends BeamhubError {
  constructor(service: string, reason: unknown) {
    super("EABORTED", `call to "${service}" was aborted`, { cause: reason });
  }
}

/**
 * The instance serving a call went away (unregistered, its session closed) before it replied,
 * and the call could not fail over to another instance.
 */
export class ServiceGoneError extends BeamhubError {
  constructor(service: string, why: string) {
    super("ESERVICE_GONE", `service "${service}" went away before replying: ${why}`);
  }
}

/** The hub, session or channel was closed; nothing more can go through it. */
export class ClosedError extends BeamhubError {
  constructor(what: string, cause?: unknown) {
    // The cause says why ("the peer closed the connection"); a bare "channel is closed" would not.
    const why = cause instanceof Error && !(cause instanceof ClosedError) ? `: ${cause.message}` : "";
    super("ECLOSED", `${what} is closed${why}`, cause === undefined ? undefined : { cause });
  }
}

/**
 * The hub's access rules (`hub.authorize`) refuse this session's identity the action: calling
 * a service, or registering a name. The same error comes whether or not the service exists, so
 * a refusal tells nothing about other services.
 */
export class ForbiddenError extends BeamhubError {
  constructor(
    readonly action: "call" | "register" | "publish" | "subscribe",
    readonly service: string,
    identity?: string,
    reason?: string,
  ) {
    const who = identity === undefined ? "an anonymous session" : `identity "${identity}"`;
    const why = reason === undefined ? "" : `: ${reason}`;
    super("EFORBIDDEN", `forbidden: ${who} may not ${action} "${service}"${why} (EFORBIDDEN)`);
  }
}

/** A watcher fell too far behind the events it watches and was ended. */
export class LaggedError extends BeamhubError {
  constructor(readonly missed: number) {
    super("ELAGGED", `watcher fell behind and missed ${missed} events`);
  }
}

/**
 * A publication waited for a slow subscriber (one subscribed with `lag: "wait"`) longer than the
 * publish timeout. The message was not published: no subscriber got it and it is not in history.
 */
export class PublishTimeoutError extends BeamhubError {
  constructor(
    readonly channel: string,
    readonly timeoutMs: number,
  ) {
    super(
      "EPUBLISH_TIMEOUT",
      `publish to "${channel}" timed out after ${timeoutMs} ms waiting for a slow subscriber (lag: "wait")`,
    );
  }
}

/** A byte stream was reset (aborted) by the other side or by closing its owner. */
export class StreamResetError extends BeamhubError {
  constructor(reason: string, cause?: unknown) {
    super("ESTREAM_RESET", `byte stream reset: ${reason}`, cause === undefined ? undefined : { cause });
  }
}

/**
 * A `lag: "wait"` subscriber held a broadcast byte stream back longer than the publish timeout:
 * its copy of the stream was reset with this error (a `StreamResetError`, so its reads fail
 * with it, on any transport) and the broadcast went on to the other subscribers.
 */
export class SubscriberTooSlowError extends StreamResetError {
  override readonly code: string = "ESUBSCRIBER_TOO_SLOW";

  constructor(
    readonly channel: string,
    readonly seq: number,
    readonly timeoutMs: number,
  ) {
    super(
      `this subscriber's copy of byte stream broadcast ${seq} on "${channel}" was cut: it read nothing for ${timeoutMs} ms while the publisher waited (lag: "wait")`,
    );
  }
}

/** A message's data cannot travel (too deeply nested, cyclic, ...). */
export class InvalidMessageError extends BeamhubError {
  constructor(message: string) {
    super("EINVALID_MESSAGE", message);
  }
}

/**
 * One stream, channel or call was refused because it would exceed a limit (a per-session limit
 * the receiver announced in its HELLO, or the process-wide memory budget). Only that one thing
 * fails; the session goes on. `limit` names the limit (`maxStreams`, `maxChannels`,
 * `memoryBudget`, ...).
 */
export class LimitExceededError extends BeamhubError {
  constructor(
    readonly limit: string,
    message: string,
  ) {
    super("ELIMIT", message);
  }
}

/** What a service handler threw, as the caller sees it. */
export interface RemoteErrorInfo {
  /** The `name` of the error the handler threw, e.g. `"TypeError"` or `"NotAllowed"`. */
  name: string;
  message: string;
  /** The handler error's `code`, or `"EHANDLER"` when it had none. */
  code: string;
  /** Extra structured detail the handler attached (`error.details`), if any. */
  details?: unknown;
}

/**
 * A service handler (or a channel request handler) threw. `remoteName`, `message` and `code`
 * come from the thrown error; in one process `cause` is the thrown error itself, across a
 * transport it is a plain `Error` rebuilt from what travelled.
 */
export class ServiceError extends BeamhubError {
  readonly remoteName: string;
  readonly details: unknown;

  constructor(
    readonly service: string,
    info: RemoteErrorInfo,
    cause?: unknown,
  ) {
    super(info.code, info.message, { cause });
    this.remoteName = info.name;
    this.details = info.details;
  }

  /** Describes any thrown value in the form that travels between peers. */
  static describe(thrown: unknown): RemoteErrorInfo {
    if (thrown instanceof ServiceError) {
      return { name: thrown.remoteName, message: thrown.message, code: thrown.code, details: thrown.details };
    }
    if (thrown instanceof Error) {
      const code = (thrown as { code?: unknown }).code;
      const details = (thrown as { details?: unknown }).details;
      const info: RemoteErrorInfo = {
        name: thrown.name,
        message: thrown.message,
        code: typeof code === "string" && code !== "" ? code : "EHANDLER",
      };
      if (details !== undefined) info.details = details;
      return info;
    }
    return { name: "Error", message: String(thrown), code: "EHANDLER" };
  }
}
