/**
 * The hand-off library (`native/handoff-preload.c`, built with the addon) and the environment
 * that makes a program load it: how `beamhub run` hands the upstream's socket to programs that
 * only know how to connect to host:port.
 */
import { FdUnavailableError, locateBuilt } from "../fd/index.js";

/** The environment variable the library reads its routes from (`host:port=path;...`). */
export const HANDOFF_ENV = "BEAMHUB_HANDOFF";

/**
 * The path of the built hand-off library.
 * @throws {FdUnavailableError} off Linux, or when the install step could not build it.
 */
export function handoffLibraryPath(): string {
  if (process.platform !== "linux") {
    throw new FdUnavailableError("the hand-off library (LD_PRELOAD) exists on Linux only");
  }
  const built = locateBuilt("beamhub_handoff.so", "handoff-build-failure.txt", "the hand-off library");
  if ("missing" in built)
    throw new FdUnavailableError(`the hand-off library is not available: ${built.missing}`);
  return built.path;
}

/**
 * The variables to add to a program's environment so that its connections to `routes` (from
 * {@link TcpConnector.handoff}) are handed over: the library first in `LD_PRELOAD`, the routes
 * first in `BEAMHUB_HANDOFF` (both keep what `base` had, so runs nest).
 * @throws {FdUnavailableError} when the library is not available.
 */
export function handoffEnvironment(
  routes: readonly string[],
  base: NodeJS.ProcessEnv = process.env,
): { LD_PRELOAD: string; BEAMHUB_HANDOFF: string } {
  const library = handoffLibraryPath();
  const preload = (base.LD_PRELOAD ?? "")
    .split(/[\s:]+/)
    .filter((entry) => entry !== "" && entry !== library);
  const existing = (base[HANDOFF_ENV] ?? "").split(";").filter((entry) => entry !== "");
  return {
    LD_PRELOAD: [library, ...preload].join(":"),
    BEAMHUB_HANDOFF: [...routes, ...existing.filter((entry) => !routes.includes(entry))].join(";"),
  };
}
