import type { Socket } from "node:net";
import { RateLimitedLog } from "./rate-limited-log.js";
import type { TrustedProxies } from "./trusted-proxies.js";

/** The limits a `ConnectionGuard` enforces. */
export interface ConnectionGuardOptions {
  /** Connections open at once; more are closed at accept. */
  readonly maxConnections: number;
  /** Connections open at once from one address (trusted proxies are exempt). */
  readonly maxConnectionsPerAddress: number;
  /** A connection must be established (`established`) within this many ms of accept; 0: never. */
  readonly establishTimeout: number;
  readonly trustedProxies: TrustedProxies;
  /** Where refusals and drops are reported (rate-limited). */
  readonly log: (line: string) => void;
}

interface Tracked {
  readonly socket: Socket;
  readonly address: string;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** How often each kind of log line may appear (ms). */
const LOG_INTERVAL = 10_000;

/**
 * Guards the TCP sockets of an HTTPS server, below TLS and HTTP: a connection is counted from
 * `accept` (the server's `connection` event) until its socket closes, refused when over the
 * total or per-address cap, and destroyed — the raw TCP socket, so its fd is released whatever
 * state TLS or nghttp2 are in — unless it becomes `established` within `establishTimeout`.
 *
 * This is the defence against connections that never end: `node:http2` keeps a connection
 * whose peer broke the protocol mid-request (a request without END_STREAM, then a
 * CONTINUATION frame on another stream: nghttp2 sends GOAWAY and then waits for a stream that
 * can no longer finish) until an idle timeout finally fires, and a plain
 * `http2.createSecureServer` keeps it forever. The HTTP layer cannot be relied on to notice,
 * so the deadline lives on the socket.
 */
export class ConnectionGuard {
  readonly #byKey = new Map<string, Tracked>();
  readonly #perAddress = new Map<string, number>();
  readonly #log: RateLimitedLog;

  constructor(private readonly options: ConnectionGuardOptions) {
    this.#log = new RateLimitedLog(options.log, LOG_INTERVAL);
  }

  /** Connections open right now. */
  get size(): number {
    return this.#byKey.size;
  }

  /** Connections open right now from `address`. */
  countOf(address: string): number {
    return this.#perAddress.get(address) ?? 0;
  }

  /** A TCP connection was accepted: counts it, or destroys it when a cap is reached. */
  accept(socket: Socket): void {
    const address = socket.remoteAddress ?? "?";
    const key = keyOf(socket);
    const { maxConnections, maxConnectionsPerAddress, establishTimeout } = this.options;
    if (key === undefined) {
      socket.destroy(); // already closed: nothing to guard
      return;
    }
    if (this.#byKey.size >= maxConnections) {
      this.#log.log(
        "max-connections",
        `https: refused a connection from ${address}: the hub holds its maximum of ${maxConnections} connections (--max-connections)`,
      );
      socket.destroy();
      return;
    }
    const fromAddress = this.countOf(address);
    if (fromAddress >= maxConnectionsPerAddress && !this.options.trustedProxies.has(address)) {
      this.#log.log(
        "max-connections-per-address",
        `https: refused a connection from ${address}: it holds the maximum of ${maxConnectionsPerAddress} connections per address (--max-connections-per-address)`,
      );
      socket.destroy();
      return;
    }
    const tracked: Tracked = { socket, address, timer: undefined };
    if (establishTimeout > 0) {
      tracked.timer = setTimeout(() => {
        this.#log.log(
          "establish-timeout",
          `https: dropped a connection from ${address}: no session or complete request within ${establishTimeout} ms of connecting`,
        );
        socket.destroy();
      }, establishTimeout);
      tracked.timer.unref();
    }
    this.#byKey.set(key, tracked);
    this.#perAddress.set(address, fromAddress + 1);
    socket.once("close", () => this.#forget(key, tracked));
  }

  /** Reports (rate-limited, per `kind`) a connection the server ended for a reason of its own. */
  report(kind: string, line: string): void {
    this.#log.log(kind, line);
  }

  /**
   * The connection `socket` belongs to (the raw socket, its TLS socket or an HTTP/2 session's
   * socket proxy: they share the remote address and port) did what a real client does first:
   * its deadline is lifted.
   */
  established(key: string | undefined): void {
    if (key === undefined) return;
    const tracked = this.#byKey.get(key);
    if (tracked?.timer === undefined) return;
    clearTimeout(tracked.timer);
    tracked.timer = undefined;
  }

  #forget(key: string, tracked: Tracked): void {
    if (tracked.timer !== undefined) clearTimeout(tracked.timer);
    if (this.#byKey.get(key) === tracked) this.#byKey.delete(key);
    const left = (this.#perAddress.get(tracked.address) ?? 1) - 1;
    if (left <= 0) this.#perAddress.delete(tracked.address);
    else this.#perAddress.set(tracked.address, left);
  }
}

/**
 * What names one TCP connection across its wrappers (raw socket, TLS socket, HTTP/2 socket
 * proxy): the remote address and port. Read it while the connection is open: an HTTP/2
 * session's socket proxy throws once the session is gone.
 */
export function connectionKey(
  socket: { remoteAddress?: string; remotePort?: number } | undefined,
): string | undefined {
  try {
    return keyOf(socket);
  } catch {
    return undefined;
  }
}

function keyOf(socket: { remoteAddress?: string; remotePort?: number } | undefined): string | undefined {
  const address = socket?.remoteAddress;
  const port = socket?.remotePort;
  return address === undefined || port === undefined ? undefined : `${address}|${port}`;
}
