import { MLES_DEFAULTS, MlesFace, type Hub, type HttpsRefusal } from "../index.js";
import { CliError, EXIT } from "./errors.js";
import { booleanSetting, stringSetting, type Setting } from "./settings.js";

/** The Mles face's settings (`--mles`, `--mles-key` or `MLES_KEY`), checked before `serve` listens. */
export interface MlesServeOptions {
  /** The shared key, or undefined for Mles without a key (auth optional). */
  readonly key: string | undefined;
  /** Where the key came from (`MLES_KEY`, `--mles-key`, ...), for the status line. */
  readonly keySource: string | undefined;
}

/**
 * Resolves `--mles` and its key: `--mles-key` (or `BEAMHUB_MLES_KEY`, or the config file), else
 * `MLES_KEY` as Mles itself reads it. A key without `--mles`, or `--mles` without the https
 * listener, is a usage error; a stray `MLES_KEY` in the environment is not (Mles may run beside).
 */
export function mlesServeOptions(
  pick: (flag: string) => Setting<unknown> | undefined,
  env: NodeJS.ProcessEnv,
  httpsOn: boolean,
): MlesServeOptions | undefined {
  const on = booleanSetting(pick("mles"));
  const keySetting = stringSetting(pick("mles-key"));
  if (on?.value !== true) {
    if (keySetting !== undefined) {
      throw new CliError(`${keySetting.source} needs --mles (the Mles face is off)`, EXIT.usage);
    }
    return undefined;
  }
  if (!httpsOn) {
    throw new CliError(
      `${on.source}: the Mles face is served on the https listener, which is off`,
      EXIT.usage,
    );
  }
  const fromEnv = env.MLES_KEY === undefined || env.MLES_KEY === "" ? undefined : env.MLES_KEY;
  if (keySetting !== undefined) return { key: keySetting.value, keySource: keySetting.source };
  return { key: fromEnv, keySource: fromEnv === undefined ? undefined : "MLES_KEY" };
}

/**
 * The face on `hub`'s pub/sub, so Mles clients and beamhub subscribers share channels; its
 * refusals (origin, auth, access rules) go to `onRefused`.
 */
export function startMles(
  hub: Hub,
  options: MlesServeOptions,
  onRefused?: (refusal: HttpsRefusal) => void,
): MlesFace {
  return new MlesFace(hub, { key: options.key, onRefused });
}

/** The status line's Mles part. */
export function describeMles(url: string, options: MlesServeOptions): string {
  const wss = url.replace(/^https:/, "wss:");
  return (
    `mles: Mles clients on ${wss}/ (subprotocol mles-websocket, any path outside /beamhub/); ` +
    (options.key === undefined
      ? "no key: anyone who reaches the port may join any channel as any uid"
      : `auth required (key from ${options.keySource})`) +
    `; history ${MLES_DEFAULTS.history} frames, frames up to ${MLES_DEFAULTS.maxFrameSize} bytes, ` +
    `${MLES_DEFAULTS.maxMembersPerChannel} members per channel`
  );
}
