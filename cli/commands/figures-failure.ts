import { ForbiddenError, InvalidArgumentError } from "../../index.js";
import type { CliConfig } from "../config.js";
import { CliError, EXIT } from "../errors.js";

/**
 * A failed read of the hub's figures as one line: refused by the access rules (with the name to
 * grant), or a hub too old to have them.
 */
export function figuresFailure(error: unknown, access: string, config: CliConfig): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ForbiddenError) {
    return new CliError(
      `the hub at ${config.hub.text} refused: ${error.message}. Its access rules must let you call ${access}`,
      EXIT.failed,
      { cause: error },
    );
  }
  if (error instanceof InvalidArgumentError && /unknown hub operation/.test(error.message)) {
    return new CliError(
      `the hub at ${config.hub.text} does not report its figures (a beamhub from before they existed)`,
      EXIT.failed,
      { cause: error },
    );
  }
  const failure = error as Error & { code?: string };
  return new CliError(
    `reading the hub's figures failed: ${failure.code ?? ""} ${failure.message}`.trim(),
    EXIT.failed,
    {
      cause: error,
    },
  );
}
