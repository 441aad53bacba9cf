import { BeamhubError } from "../base/error.js";

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
