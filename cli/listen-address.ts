import { isIP } from "node:net";
import { CliError, EXIT } from "./errors.js";
import type { Setting } from "./settings.js";

/** Where `serve` listens for https:// peers. */
export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

/** The port of `--listen-https HOST` without one. */
export const DEFAULT_HTTPS_PORT = 8443;

/**
 * Parses `--listen-https`: `HOST:PORT`, `[IPv6]:PORT`, `HOST` (port 8443), `PORT` (on
 * 127.0.0.1), or `off` (undefined: no https listener). `:PORT` is refused: some tools read it
 * as "every interface" and others as "loopback", and which one is too important to guess.
 */
export function parseListenAddress(setting: Setting<string>): ListenAddress | undefined {
  const text = setting.value.trim();
  if (text.toLowerCase() === "off") return undefined;
  const bad = (why: string): CliError =>
    new CliError(
      `${setting.source} takes HOST:PORT (e.g. 127.0.0.1:8443, 0.0.0.0:8443, [::]:8443) or off; ` +
        `${JSON.stringify(setting.value)} ${why}`,
      EXIT.usage,
    );
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (isIP(host) !== 6) throw bad("has no IPv6 address inside the brackets");
  } else if (/^\d+$/.test(text)) {
    host = "127.0.0.1";
    portText = text;
  } else if (text.indexOf(":") !== text.lastIndexOf(":")) {
    if (isIP(text) === 6) throw bad(`needs brackets around an IPv6 address: [${text}]:${DEFAULT_HTTPS_PORT}`);
    throw bad("is not HOST:PORT");
  } else if (text.startsWith(":")) {
    throw bad("names no host: use 127.0.0.1 for this machine only, or 0.0.0.0 for every interface");
  } else {
    const colon = text.indexOf(":");
    host = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
    if (isIP(host) === 0 && !/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/i.test(host)) {
      throw bad("has no valid host name or IP address");
    }
  }
  const port = portText === undefined ? DEFAULT_HTTPS_PORT : Number(portText);
  if (portText === "" || !/^\d*$/.test(portText ?? "") || !Number.isInteger(port) || port > 65535) {
    throw bad("has no port from 0 to 65535 (0: any free port)");
  }
  return { host, port };
}

export { isLoopbackHost } from "../internal.js";
