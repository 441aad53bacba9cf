import { mkdirSync, readFileSync } from "node:fs";
import { homedir, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { CliError, EXIT } from "./errors.js";

/** Where things are, from flags, then environment, then an optional config file, then defaults. */
export interface CliConfig {
  /** The hub's Unix socket. */
  socket: string;
  /** Default call timeout in milliseconds. */
  timeout: number;
}

/** The per-user directory for the default socket: private (0700), like the socket itself. */
export function defaultSocket(): string {
  const base = process.env.XDG_RUNTIME_DIR ?? join(tmpdir(), `beamhub-${userInfo().uid}`);
  mkdirSync(base, { recursive: true, mode: 0o700 });
  return join(base, "beamhub.sock");
}

/** Where `serve` keeps its development certificate by default. */
export function defaultCertDir(): string {
  return join(homedir(), ".beamhub", "dev-cert");
}

/**
 * Resolves the configuration. The config file (`--config`, or `BEAMHUB_CONFIG`) is JSON with
 * the same keys as the flags: `{"socket": "...", "timeout": 5000}`.
 */
export function loadConfig(flags: { socket?: string; timeout?: string; config?: string }): CliConfig {
  const file = flags.config ?? process.env.BEAMHUB_CONFIG;
  let fromFile: Partial<Record<keyof CliConfig, unknown>> = {};
  if (file !== undefined) {
    try {
      fromFile = JSON.parse(readFileSync(file, "utf8")) as typeof fromFile;
    } catch (error) {
      throw new CliError(`cannot read config file ${file}: ${(error as Error).message}`, EXIT.usage, {
        cause: error,
      });
    }
  }
  const socket = flags.socket ?? process.env.BEAMHUB_SOCKET ?? asString(fromFile.socket) ?? defaultSocket();
  const timeoutText = flags.timeout ?? process.env.BEAMHUB_TIMEOUT ?? String(fromFile.timeout ?? 30_000);
  const timeout = Number(timeoutText);
  if (!Number.isFinite(timeout) || timeout < 0) {
    throw new CliError(
      `timeout must be a number of milliseconds, got ${JSON.stringify(timeoutText)}`,
      EXIT.usage,
    );
  }
  return { socket: socket.replace(/^unix:\/\//, ""), timeout };
}

function asString(value: unknown): string | undefined {
  return typeof value === "string" ? value : undefined;
}
