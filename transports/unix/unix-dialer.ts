import { DEFAULT_CODECS } from "../../wire/config.js";
/**
 * Dials a Unix socket and opens a session on it: the client half of the Unix transport, which
 * knows nothing of hubs (`connectUnix` wraps the session it returns in a `RemoteHub`).
 * @module
 */
import type { Codec } from "../../codecs/index.js";
import { InvalidArgumentError } from "../../model/errors.js";
import type { WireConnection } from "../../wire/connection.js";
import { ConnectionLostError, ConnectTimeoutError } from "../../wire/errors.js";
import { verifyKeepAlive, type AbortableTransport } from "../../wire/keep-alive.js";
import { handshakeWithin, openSession } from "../../wire/open-session.js";
import { FdSocket, FdSocketError, fdPassingUnavailable } from "../../fd/index.js";
import { unixDescriptors } from "./descriptors.js";
import { connectPlainUnix, plainTransportFor, unavailableDescriptors } from "./plain-socket.js";
import { stripUnixUrl } from "./unix-address.js";
import type { UnixListenOptions } from "./unix-listener.js";
import { transportFor } from "./unix-transport.js";

/** Default bound on a whole dial (reaching the socket and the handshake). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

/** Options of {@link dialUnix}. */
export interface UnixDialOptions {
  /** Session limits, as for `listenUnix`. */
  limits?: UnixListenOptions["limits"];
  /**
   * Bound on the whole connect, in ms: reaching the socket (also while the hub's backlog is
   * full) and the session handshake (default 10 000). A hub that does not answer in time (frozen,
   * overloaded, out of descriptors) fails the connect with `ConnectTimeoutError`.
   */
  connectTimeout?: number;
  /** How long to keep trying while the hub's backlog is full (default and at most `connectTimeout`). */
  timeoutMs?: number;
  /** Keep-alive interval in ms (default 2000; 0 disables), as for `listenUnix`: a frozen hub is detected within 2.25x this. */
  keepAlive?: number;
  /** Codecs to offer, most preferred first (default CBOR, then JSON). */
  codecs?: readonly Codec[];
}

/**
 * Checks `options` once, before any dial, and returns the bound of each dial in ms.
 * @throws {InvalidArgumentError} for a bad `connectTimeout` or `keepAlive`.
 */
export function verifyDialOptions(options: UnixDialOptions): number {
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidArgumentError(`connectTimeout must be a positive number of ms, got ${String(timeout)}`);
  }
  if (options.keepAlive !== undefined) verifyKeepAlive(options.keepAlive);
  return timeout;
}

/**
 * Connects to the Unix socket at `path` (or `unix:///path`) and resolves with the session once
 * the HELLOs were exchanged, or rejects with `ConnectTimeoutError` after `connectTimeout`, or
 * with the listener's refusal (a `ProtocolError` `ELIMIT` when it is over its caps). Without
 * the fd addon it connects a plain socket, on which descriptors cannot travel.
 */
export async function dialUnix(path: string, options: UnixDialOptions = {}): Promise<WireConnection> {
  const timeout = verifyDialOptions(options);
  const file = stripUnixUrl(path);
  const address = `unix://${file}`;
  const started = performance.now();
  const unavailable = fdPassingUnavailable();
  const backlogWait = Math.min(options.timeoutMs ?? timeout, timeout);
  let transport: AbortableTransport;
  try {
    transport =
      unavailable === undefined
        ? transportFor(await FdSocket.connect(file, { timeoutMs: backlogWait, batching: "microtask" }))
        : plainTransportFor(await connectPlainUnix(file, backlogWait));
  } catch (error) {
    if (error instanceof FdSocketError && error.code === "ETIMEDOUT") {
      throw new ConnectTimeoutError(
        address,
        timeout,
        "the hub's backlog stayed full (it accepts no connections)",
        error,
      );
    }
    throw error;
  }
  const session = openSession(transport, {
    ...options.limits,
    role: "client",
    codecs: options.codecs ?? DEFAULT_CODECS,
    descriptors: unavailable === undefined ? unixDescriptors : unavailableDescriptors(unavailable),
    keepAlive: options.keepAlive,
  });
  await handshakeWithin(
    session,
    timeout - (performance.now() - started),
    () =>
      new ConnectTimeoutError(
        address,
        timeout,
        "the hub took the connection but did not answer the handshake (frozen, overloaded or out of descriptors?)",
      ),
  );
  const { connection } = session;
  // A listener that refuses the connection (over its connection caps) sends GOAWAY right after
  // its HELLO: the session is then closed before it was ever used, and that is this call's failure.
  if (connection.isClosed)
    throw (await connection.closed) ?? new ConnectionLostError("the hub closed the session");
  return connection;
}
