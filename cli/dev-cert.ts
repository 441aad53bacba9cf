import { X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import { loadOrCreateDevCertificate, type DevCertificate } from "../index.js";
import { certificateCovers, DEV_CERTIFICATE_HOSTS } from "../internal.js";
import { CliError, EXIT } from "./errors.js";
import type { Setting } from "./settings.js";

const DNS_NAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*\.?$/i;

/**
 * Parses `--dev-cert-hosts`: DNS names and IP addresses separated by commas or spaces (a config
 * file may also give a list), e.g. `--dev-cert-hosts "$(hostname),192.168.1.20"`.
 */
export function parseDevCertHosts(setting: Setting<unknown>): string[] {
  const { value, source } = setting;
  const items =
    typeof value === "string"
      ? value.split(/[\s,]+/)
      : Array.isArray(value) && value.every((item) => typeof item === "string")
        ? (value as string[])
        : undefined;
  if (items === undefined) {
    throw new CliError(`${source} must be host names or IP addresses separated by commas`, EXIT.usage);
  }
  const hosts = items.map((item) => item.trim().replace(/^\[(.*)\]$/, "$1")).filter((item) => item !== "");
  if (hosts.length === 0) throw new CliError(`${source} names no host`, EXIT.usage);
  for (const host of hosts) {
    if (isIP(host) === 0 && !DNS_NAME.test(host)) {
      throw new CliError(
        `${source}: ${JSON.stringify(host)} is neither a DNS name nor an IP address`,
        EXIT.usage,
      );
    }
  }
  return hosts;
}

/** A development certificate loaded for `serve`, and whether it had to be remade for new names. */
export interface ServeDevCertificate extends DevCertificate {
  /** The names it is valid for. */
  readonly hosts: string[];
}

/**
 * Loads (or creates) the development certificate in `dir`, valid for localhost and `extraHosts`.
 * A stored certificate that lacks one of them is replaced by one for its old names plus the new
 * ones (so names once asked for stay), and `log` says so: clients that pinned the old one must
 * fetch the new `cert.pem`.
 */
export async function loadDevCertificate(
  dir: string,
  extraHosts: readonly string[],
  log: (line: string) => void,
): Promise<ServeDevCertificate> {
  const certPath = join(dir, "cert.pem");
  const stored = readCertificate(certPath);
  const wanted = unique([...DEV_CERTIFICATE_HOSTS, ...extraHosts]);
  const missing = stored === undefined ? [] : wanted.filter((host) => !certificateCovers(stored, host));
  // Names once asked for stay: a replacement covers the stored names too.
  const hosts = unique([...wanted, ...(stored === undefined ? [] : namesOf(stored))]);
  // Replaced (under the store's lock) only when it lacks one of `hosts`.
  const certificate = await loadOrCreateDevCertificate(dir, { hosts });
  const loaded = new X509Certificate(certificate.cert);
  if (missing.length > 0) {
    log(
      `the development certificate ${certPath} was not valid for ${missing.join(", ")}: made a new one ` +
        "(clients that pinned the old cert.pem need the new one)",
    );
  }
  return { ...certificate, hosts: namesOf(loaded) };
}

function readCertificate(path: string): X509Certificate | undefined {
  try {
    return new X509Certificate(readFileSync(path));
  } catch {
    return undefined; // missing or unreadable: loadOrCreateDevCertificate makes one
  }
}

/** The DNS names and IP addresses of a certificate's subjectAltName, IPv6 shortened. */
function namesOf(certificate: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (certificate.subjectAltName ?? "").split(/,\s*/)) {
    if (entry.startsWith("DNS:")) names.push(entry.slice(4));
    else if (entry.startsWith("IP Address:")) names.push(shortIp(entry.slice(11)));
  }
  return names;
}

/** `0:0:0:0:0:0:0:1` as `::1`, so it compares equal to what a user writes. */
function shortIp(ip: string): string {
  return isIP(ip) === 6 ? new URL(`https://[${ip}]`).hostname.slice(1, -1) : ip;
}

function unique(hosts: string[]): string[] {
  return [...new Set(hosts.map((host) => (isIP(host) === 6 ? shortIp(host) : host.toLowerCase())))];
}
