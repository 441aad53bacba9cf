import { BeamhubError } from "../index.js";

/** Exit codes scripts can rely on (also listed in `beamhub --help`). */
export const EXIT = {
  ok: 0,
  /** The call reached a service and it failed, or the hub refused it. */
  failed: 1,
  /** Bad command line or configuration. */
  usage: 2,
  /** The hub could not be reached. */
  unreachable: 3,
  /** No such service. */
  notFound: 4,
} as const;

/** A failure the CLI reports as one clear line and an exit code. */
export class CliError extends BeamhubError {
  constructor(
    message: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super("ECLI", message, options);
  }
}

/**
 * A mistake on the command line of one command: exits with `EXIT.usage`, and the CLI prints the
 * command's usage line after the message.
 */
export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose usage to show, when known. */
    readonly command: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, EXIT.usage, options);
  }
}
