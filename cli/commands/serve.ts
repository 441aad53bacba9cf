import { existsSync } from "node:fs";
import { Hub, listenHttps, listenUnix, VERSION, type HttpsListener } from "../../index.js";
import type { CliConfig } from "../config.js";
import { CliError, EXIT } from "../errors.js";

/** Where `serve` listens besides its Unix socket. */
export interface ServeOptions {
  /** `host:port` for the https:// listener, or undefined for none. */
  https: string | undefined;
  /** Where the development certificate is kept (created on first use). */
  certDir: string;
}

/**
 * `beamhub serve`: a hub server with embedded defaults — a Unix socket (mode 0600) at the
 * configured path and an https:// listener on loopback with a generated, persisted development
 * certificate. Runs until SIGINT/SIGTERM, then stops accepting and closes the hub: calls still
 * in flight fail with "hub is closed" rather than hang.
 */
export async function serve(
  config: CliConfig,
  options: ServeOptions,
  log: (line: string) => void,
): Promise<number> {
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
  let https: HttpsListener | undefined;
  if (options.https !== undefined) {
    const colon = options.https.lastIndexOf(":");
    const host = colon > 0 ? options.https.slice(0, colon) : "127.0.0.1";
    const port = Number(colon >= 0 ? options.https.slice(colon + 1) : options.https);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      await listener.close();
      throw new CliError(`--https takes host:port, got ${JSON.stringify(options.https)}`, EXIT.usage);
    }
    try {
      https = await listenHttps(hub, { host, port, certDir: options.certDir });
    } catch (error) {
      await listener.close();
      throw new CliError(
        `cannot listen on https://${host}:${port}: ${(error as Error).message}`,
        EXIT.failed,
        {
          cause: error,
        },
      );
    }
    log(`serving on ${https.url} (certificate: ${options.certDir}/cert.pem; clients pin it with ca)`);
  }
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
  await https?.close();
  await hub.close();
  log("stopped");
  return 0;
}
