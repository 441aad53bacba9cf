import { cborCodec, jsonCodec, type Codec } from "../../codecs/index.js";
import type { WireConnection, ConnectionOptions } from "../../wire/connection.js";
import { ConnectTimeoutError } from "../../wire/errors.js";
import { verifyKeepAlive, type AbortableTransport } from "../../wire/keep-alive.js";
import { handshakeWithin, openSession } from "../../wire/open-session.js";
import { serveHubSession } from "../../wire/hub-server.js";
import { RemoteHub } from "../../wire/remote-hub.js";
import type { Hub } from "../../hub/hub.js";
import { InvalidArgumentError } from "../../hub/errors.js";
import { unixDescriptors } from "./descriptors.js";
import { FdServer, FdSocket, FdSocketError, type FdServerOptions } from "./fd/index.js";

/** Default bound on a whole `connectUnix` (reaching the socket and the handshake). */
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Default bound on a new session's HELLO at the hub. */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/**
 * How long a closed socket waits for its peer to close too before it is dropped: a clean peer
 * answers GOAWAY at once; an unresponsive one would otherwise hold the fd forever.
 */
const CLOSE_LINGER_MS = 1000;

/** Options of `listenUnix`. */
export interface UnixListenOptions {
  /** Permission bits of the socket file (default 0o600: only this user may connect). */
  mode?: number;
  /** Session limits (frame size, windows, channels, streams, pending fds). */
  limits?: Omit<ConnectionOptions, "role" | "codecs" | "descriptors">;
  /**
   * Keep-alive interval in ms (default 2000; 0 disables): a client silent for twice this long
   * (a frozen or vanished process) is dropped, and everything it had pending fails, within
   * 2.25x this. PROTOCOL.md, "Keep-alive".
   */
  keepAlive?: number;
  /** A new connection must complete its HELLO within this many ms, or it is dropped (default 10 000). */
  handshakeTimeout?: number;
}

/** A hub listening on a Unix socket. */
export interface UnixListener {
  readonly path: string;
  /** Stops accepting and closes every session. */
  close(): Promise<void>;
}

/** The session protocol's view of an FdSocket. */
export function transportFor(socket: FdSocket): AbortableTransport {
  return {
    supportsFds: true,
    write: (chunks, fds) => void socket.write(chunks, fds),
    start: (handlers) => {
      socket.on("data", (data, fds) => handlers.data(data, fds));
      socket.on("error", (error) => handlers.closed(error));
      socket.on("close", () => handlers.closed());
    },
    close: () => {
      if (socket.destroyed) return;
      socket.end();
      const linger = setTimeout(() => socket.destroy(), CLOSE_LINGER_MS);
      linger.unref();
      socket.once("close", () => clearTimeout(linger));
    },
    abort: () => socket.destroy(),
    flush: () => socket.flush(),
  };
}

function stripUrl(address: string): string {
  return address.startsWith("unix://") ? address.slice("unix://".length) : address;
}

/**
 * Serves `hub` on a Unix socket at `path` (or `unix:///path`): every process that connects
 * gets a session and can register, call, stream and pass file descriptors.
 */
export async function listenUnix(
  hub: Hub,
  path: string,
  options: UnixListenOptions = {},
): Promise<UnixListener> {
  // A bad interval fails here, not at the first session.
  if (options.keepAlive !== undefined) verifyKeepAlive(options.keepAlive);
  const connections = new Set<WireConnection>();
  const serverOptions: FdServerOptions = {
    mode: options.mode ?? 0o600,
    batching: "microtask",
    onConnection: (socket) => {
      const { connection } = openSession(transportFor(socket), {
        ...options.limits,
        role: "server",
        codecs: [cborCodec, jsonCodec],
        descriptors: unixDescriptors,
        keepAlive: options.keepAlive,
        handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      });
      connections.add(connection);
      void connection.closed.then(() => connections.delete(connection));
      serveHubSession(hub, connection, { id: "unix", via: "unix" });
    },
  };
  const server = await FdServer.listen(stripUrl(path), serverOptions);
  return {
    path: server.path,
    close: async () => {
      await server.close();
      for (const connection of [...connections]) connection.close("the hub is shutting down");
    },
  };
}

/** Options of `connectUnix`. */
export interface UnixConnectOptions {
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
  codecs?: Codec[];
}

/**
 * Connects to a hub listening on a Unix socket; resolves once the session is established, or
 * rejects with `ConnectTimeoutError` after `connectTimeout` (default 10 s).
 */
export async function connectUnix(path: string, options: UnixConnectOptions = {}): Promise<RemoteHub> {
  const file = stripUrl(path);
  const address = `unix://${file}`;
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidArgumentError(`connectTimeout must be a positive number of ms, got ${String(timeout)}`);
  }
  if (options.keepAlive !== undefined) verifyKeepAlive(options.keepAlive);
  const started = performance.now();
  let socket: FdSocket;
  try {
    socket = await FdSocket.connect(file, {
      timeoutMs: Math.min(options.timeoutMs ?? timeout, timeout),
      batching: "microtask",
    });
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
  const session = openSession(transportFor(socket), {
    ...options.limits,
    role: "client",
    codecs: options.codecs ?? [cborCodec, jsonCodec],
    descriptors: unixDescriptors,
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
  return new RemoteHub(session.connection);
}
