import { readFileSync } from "node:fs";
import { CliError, EXIT } from "./errors.js";

/**
 * Reads a PEM file named by a setting (`what` is how the user gave it: `--tls-cert`,
 * `BEAMHUB_CA`, `config key client-ca`, ...), so a missing or non-PEM file is a usage error that
 * names the setting rather than an OpenSSL error later.
 */
export function readPem(file: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${what} file ${file}: ${(error as Error).message}`, EXIT.usage, {
      cause: error,
    });
  }
  if (!text.includes("-----BEGIN ")) {
    throw new CliError(`${what} file ${file} is not PEM (no "-----BEGIN" line)`, EXIT.usage);
  }
  return text;
}
