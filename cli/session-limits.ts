import { jsonCodec } from "../codecs/index.js";
import { ConnectionConfigError, type ConnectionOptions } from "../index.js";
import { verifyConfig } from "../internal.js";
import type { Setting } from "./settings.js";
import { CliError, EXIT } from "./errors.js";

/** The per-session limits `serve` passes to both listeners (see SECURITY.md, "Limits"). */
export type SessionLimitSettings = Pick<
  ConnectionOptions,
  "maxFrameSize" | "maxStreams" | "maxChannels" | "maxPendingRequests"
>;

/** Flag of each session limit, in the order help lists them. */
export const SESSION_LIMIT_FLAGS = {
  "max-frame-size": "maxFrameSize",
  "max-streams": "maxStreams",
  "max-channels": "maxChannels",
  "max-pending-requests": "maxPendingRequests",
} as const satisfies Record<string, keyof SessionLimitSettings>;

/**
 * The session limits from `--max-frame-size`, `--max-streams`, `--max-channels` and
 * `--max-pending-requests` (or their `BEAMHUB_*` variables and config keys), each a positive
 * integer and together checked by the session layer's own `verifyConfig` now, so that a value
 * the session would refuse is a usage error before anything listens, not a failure at the
 * first connection.
 */
export function sessionLimits(
  pick: (flag: string) => Setting<unknown> | undefined,
  count: (setting: Setting<unknown> | undefined) => number | undefined,
): SessionLimitSettings {
  const limits: SessionLimitSettings = {};
  const sources: string[] = [];
  for (const [flag, key] of Object.entries(SESSION_LIMIT_FLAGS)) {
    const setting = pick(flag);
    const value = count(setting);
    if (value === undefined) continue;
    limits[key] = value;
    sources.push(setting!.source);
  }
  try {
    verifyConfig({ role: "server", codecs: [jsonCodec], ...limits });
  } catch (error) {
    if (!(error instanceof ConnectionConfigError)) throw error;
    throw new CliError(`${sources.join(", ")}: ${error.message}`, EXIT.usage, { cause: error });
  }
  return limits;
}
