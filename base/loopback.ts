import { isIP } from "node:net";

/**
 * Whether only this machine can reach `host`: `localhost` (and `*.localhost`), 127.0.0.0/8,
 * `::1`, or an IPv4-mapped loopback address. Brackets around an IPv6 address are allowed.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  return name === "::1" || name === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(name);
}
