/** Parsing of gateway addresses: upstream targets and local listen addresses. */
import { InvalidAddressError } from "./errors.js";

/** A TCP endpoint. */
export interface TcpAddress {
  readonly host: string;
  readonly port: number;
}

/** Parses `tcp://host:port` (IPv6 hosts in brackets: `tcp://[::1]:5432`). */
export function parseTarget(target: string): TcpAddress {
  if (!target.startsWith("tcp://")) {
    throw new InvalidAddressError(`target ${JSON.stringify(target)} must look like tcp://host:port`);
  }
  return parseHostPort(target.slice("tcp://".length), undefined, `target ${JSON.stringify(target)}`);
}

/**
 * Parses a listen address: a port number (on `127.0.0.1`), `"PORT"`, or `"host:PORT"`.
 * Port 0 picks a free port.
 */
export function parseListen(listen: string | number | undefined): TcpAddress {
  if (listen === undefined) return { host: "127.0.0.1", port: 0 };
  if (typeof listen === "number") return { host: "127.0.0.1", port: checkPort(listen, String(listen)) };
  if (/^\d+$/.test(listen)) return { host: "127.0.0.1", port: checkPort(Number(listen), listen) };
  return parseHostPort(listen, "127.0.0.1", `listen address ${JSON.stringify(listen)}`);
}

function parseHostPort(text: string, defaultHost: string | undefined, what: string): TcpAddress {
  const match = /^(?:\[([^\]]+)\]|([^:/[\]]*)):(\d+)$/.exec(text);
  if (match === null) throw new InvalidAddressError(`${what} must look like host:port`);
  const host = match[1] ?? match[2] ?? "";
  if (host === "" && defaultHost === undefined) throw new InvalidAddressError(`${what} has no host`);
  return { host: host === "" ? (defaultHost as string) : host, port: checkPort(Number(match[3]), what) };
}

function checkPort(port: number, what: string): number {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InvalidAddressError(`${what}: port must be 0..65535`);
  }
  return port;
}
