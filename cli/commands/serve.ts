import { existsSync } from "node:fs";
import { Hub, listenUnix, VERSION } from "../../index.js";
import type { CliConfig } from "../config.js";

/**
 * `beamhub serve`: a hub server with embedded defaults — a Unix socket (mode 0600) at the
 * configured path. Runs until SIGINT/SIGTERM, then stops accepting and closes the hub: calls
 * still in flight fail with "hub is closed" rather than hang.
 */
export async function serve(config: CliConfig, log: (line: string) => void): Promise<number> {
  const hub = new Hub({ callTimeout: config.timeout });
  const started = Date.now();
  await hub.register("hub.info", () => ({
    version: VERSION,
    uptimeMs: Date.now() - started,
    pid: process.pid,
  }));
  const stale = existsSync(config.socket);
  const listener = await listenUnix(hub, config.socket);
  log(
    `beamhub ${VERSION}: serving on unix://${listener.path}${stale ? " (replaced a stale socket file)" : ""}`,
  );
  log("press Ctrl-C to stop");
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      log(`${signal}: shutting down`);
      resolve();
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
  await listener.close();
  await hub.close();
  log("stopped");
  return 0;
}
