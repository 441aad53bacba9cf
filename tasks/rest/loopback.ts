import { isIP } from "node:net";

/** Whether `host` is a loopback name or address (`localhost`, 127.0.0.0/8, ::1). */
export function isLoopback(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1" || host === "[::1]";
}
