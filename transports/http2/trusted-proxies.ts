import type { IncomingHttpHeaders } from "node:http";
import { BlockList, isIP } from "node:net";
import { InvalidArgumentError } from "../../model/errors.js";

/** Request header a reverse proxy appends the address it accepted the connection from to. */
export const FORWARDED_FOR_HEADER = "x-forwarded-for";

/**
 * The reverse proxies whose `X-Forwarded-For` the hub believes (`trustedProxies`,
 * `--trusted-proxy`). A peer that connects from any other address is taken at its socket
 * address, whatever headers it sends: otherwise anyone could claim any address and escape the
 * per-address limits, or pin them on someone else.
 */
export class TrustedProxies {
  readonly #list = new BlockList();
  readonly #empty: boolean;

  /**
   * @param entries addresses (`10.0.0.5`, `::1`) or CIDR ranges (`10.0.0.0/8`, `fd00::/8`).
   * @throws InvalidArgumentError naming an entry that is neither.
   */
  constructor(entries: readonly string[] = []) {
    this.#empty = entries.length === 0;
    for (const entry of entries) addEntry(this.#list, entry);
  }

  /** Whether `address` (a socket's remote address) is a trusted proxy. */
  has(address: string | undefined): boolean {
    if (this.#empty || address === undefined) return false;
    const plain = plainAddress(address);
    const family = isIP(plain);
    return family !== 0 && this.#list.check(plain, family === 4 ? "ipv4" : "ipv6");
  }

  /**
   * The client's address: the socket's, unless the socket is a trusted proxy; then the
   * right-most `X-Forwarded-For` entry that is not itself a trusted proxy (each proxy appends
   * the address it saw, so entries left of the first untrusted one may be forged). A malformed
   * entry stops the walk at the last trusted hop.
   */
  clientAddress(socketAddress: string | undefined, headers: IncomingHttpHeaders): string | undefined {
    if (socketAddress === undefined || !this.has(socketAddress)) return normalized(socketAddress);
    const header = headers[FORWARDED_FOR_HEADER];
    const text = Array.isArray(header) ? header.join(",") : header;
    if (text === undefined || text.trim() === "") return normalized(socketAddress);
    let client = plainAddress(socketAddress);
    const hops = text.split(",").map((hop) => hop.trim());
    for (let index = hops.length - 1; index >= 0; index -= 1) {
      const hop = hopAddress(hops[index] ?? "");
      if (hop === undefined) break;
      client = hop;
      if (!this.has(hop)) break;
    }
    return client;
  }
}

function addEntry(list: BlockList, entry: string): void {
  const [address = "", prefix, ...rest] = entry.trim().split("/");
  const plain = plainAddress(address);
  const family = isIP(plain);
  const bits = prefix === undefined ? undefined : Number(prefix);
  const maxBits = family === 4 ? 32 : 128;
  if (
    family === 0 ||
    rest.length > 0 ||
    (bits !== undefined && (!Number.isInteger(bits) || bits < 0 || bits > maxBits || prefix === ""))
  ) {
    throw new InvalidArgumentError(
      `trusted proxy ${JSON.stringify(entry)} is not an IP address or CIDR range (e.g. 10.0.0.5, 10.0.0.0/8, ::1)`,
    );
  }
  const type = family === 4 ? "ipv4" : "ipv6";
  if (bits === undefined) list.addAddress(plain, type);
  else list.addSubnet(plain, bits, type);
}

/** `::ffff:10.0.0.5` → `10.0.0.5`: IPv4 peers of a dual-stack socket compare as IPv4. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped?.[1] ?? address;
}

function normalized(address: string | undefined): string | undefined {
  return address === undefined ? undefined : plainAddress(address);
}

/** An `X-Forwarded-For` entry as an address: `1.2.3.4`, `1.2.3.4:567`, `[::1]:80`, `::1`. */
function hopAddress(hop: string): string | undefined {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  const withPort = /^(\d+\.\d+\.\d+\.\d+):\d+$/.exec(hop);
  const address = plainAddress(bracketed?.[1] ?? withPort?.[1] ?? hop);
  return isIP(address) === 0 ? undefined : address;
}
