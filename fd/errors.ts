/**
 * Errors of the fd passing layer. All extend {@link FdError} (itself a `BeamhubError`), so
 * `instanceof FdError` catches any of them and `code` names the exact failure.
 *
 * Codes:
 * - `EFD_UNAVAILABLE` — the native addon is not built or cannot be loaded ({@link FdUnavailableError}).
 * - `EFD_INVALID` — a caller passed something unusable (a bad fd list, an fd of the wrong kind).
 * - `EFD_CTRUNC` — the kernel dropped received fds (control data truncated); the connection is dead.
 * - `ESOCKET` — a system call failed; `errno` and `syscall` say which and how ({@link FdSocketError}).
 * - `EADDRINUSE` — a live server already listens on the socket path (or the path is not a socket).
 * - `ETIMEDOUT` — connecting took longer than `timeoutMs`.
 * @module
 */
import { BeamhubError } from "../base/error.js";

/** The root of this layer's errors. */
export class FdError extends BeamhubError {}

/** The native addon is missing or failed to load: fd passing cannot be used in this process. */
export class FdUnavailableError extends FdError {
  /** Why the addon is unavailable (build failure, missing file, disabled by env, ...). */
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown }) {
    super("EFD_UNAVAILABLE", `fd passing unavailable: ${reason}`, options);
    this.reason = reason;
  }
}

/** Details of a failed socket operation. */
export interface FdSocketErrorDetails {
  /** The errno name, e.g. `ECONNRESET`, when a system call failed. */
  errno?: string;
  /** The failing system call, e.g. `recvmsg`. */
  syscall?: string;
  /** The socket path involved, if any. */
  path?: string;
  cause?: unknown;
}

/** A socket-level failure: a system call error, lost fds, a busy address, a timeout. */
export class FdSocketError extends FdError {
  /** The errno name (`ECONNRESET`, `EPIPE`, ...) when a system call failed. */
  readonly errno: string | undefined;
  /** The system call that failed. */
  readonly syscall: string | undefined;
  /** The socket path involved, if any. */
  readonly path: string | undefined;

  constructor(code: string, message: string, details: FdSocketErrorDetails = {}) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.errno = details.errno;
    this.syscall = details.syscall;
    this.path = details.path;
  }
}
