import { cborCodec, jsonCodec, type Codec } from "../../codecs/index.js";
import type { WireConnection, ConnectionOptions } from "../../wire/connection.js";
import { ConnectTimeoutError } from "../../wire/errors.js";
import { verifyKeepAlive, type AbortableTransport } from "../../wire/keep-alive.js";
import { handshakeWithin, openSession } from "../../wire/open-session.js";
import { serveHubSession } from "../../hub/remote/hub-server.js";
import { ConnectionLostError } from "../../wire/errors.js";
import { RemoteHub } from "../../hub/remote/remote-hub.js";
import { InvalidArgumentError } from "../../model/errors.js";
import { verifyReconnectOptions, type ReconnectOptions } from "../../hub/remote/reconnect-options.js";
import type { Hub } from "../../hub/hub.js";
import {
  DEFAULT_MAX_UNIX_CONNECTIONS,
  DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID,
  refuseConnection,
  UnixConnectionLimits,
  type UnixConnectionRefusal,
} from "./connection-limits.js";
import { unixDescriptors } from "./descriptors.js";
import { FdServer, FdSocket, FdSocketError, type FdServerOptions } from "../../fd/index.js";
import { unixIdentity } from "./peer-identity.js";

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
   * Most connections open at once (default {@link DEFAULT_MAX_UNIX_CONNECTIONS}, 1024). One more
   * is refused with GOAWAY `ELIMIT` (its `connectUnix` fails with a `ProtocolError` of that
   * code) and reported to `onRefused`.
   */
  maxConnections?: number;
  /** Most connections open at once from one peer uid (default 256), refused the same way. */
  maxConnectionsPerUid?: number;
  /**
   * Told of every refused connection (e.g. to log it). Refusals come as fast as a peer can
   * connect: the listener calls this at most once a second, with the count of those it skipped
   * in the message.
   */
  onRefused?: (refusal: UnixConnectionRefusal) => void;
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
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting and closes every session. */
  close(): Promise<void>;
}

/** The session protocol's view of an FdSocket. */
export function transportFor(socket: FdSocket): AbortableTransport {
  return {
    supportsFds: true,
    // false above the socket's high-water mark (1 MiB); its 'drain' follows.
    write: (chunks, fds) => socket.write(chunks, fds),
    start: (handlers) => {
      socket.on("data", (data, fds) => handlers.data(data, fds));
      socket.on("error", (error) => handlers.closed(error));
      socket.on("close", () => handlers.closed());
      socket.on("drain", () => handlers.drain?.());
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
    get bufferedBytes() {
      return socket.writableLength;
    },
    pause: () => socket.pause(),
    resume: () => socket.resume(),
  };
}

function stripUrl(address: string): string {
  return address.startsWith("unix://") ? address.slice("unix://".length) : address;
}

/**
 * Serves `hub` on a Unix socket at `path` (or `unix:///path`): every process that connects
 * gets a session and can register, call, stream and pass file descriptors. Each session's
 * identity is the peer's kernel credentials ({@link UnixIdentity}: `{id: "unix:alice", via:
 * "unix", uid, gid, pid, user, gids, groups}`), which the hub's access rules and handlers see.
 */
export async function listenUnix(
  hub: Hub,
  path: string,
  options: UnixListenOptions = {},
): Promise<UnixListener> {
  // A bad interval fails here, not at the first session.
  if (options.keepAlive !== undefined) verifyKeepAlive(options.keepAlive);
  const connections = new Set<WireConnection>();
  const limits = new UnixConnectionLimits(
    positiveLimit(options.maxConnections, DEFAULT_MAX_UNIX_CONNECTIONS, "maxConnections"),
    positiveLimit(options.maxConnectionsPerUid, DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID, "maxConnectionsPerUid"),
  );
  const report = refusalReporter(options.onRefused);
  const serverOptions: FdServerOptions = {
    mode: options.mode ?? 0o600,
    batching: "microtask",
    onConnection: (socket) => {
      const credentials = socket.peerCredentials();
      const admitted = limits.admit(credentials?.uid);
      if (typeof admitted === "string") {
        const who =
          credentials === undefined
            ? "a peer with unknown credentials"
            : `uid ${credentials.uid}${credentials.pid === undefined ? "" : ` (pid ${credentials.pid})`}`;
        const cap =
          admitted === "total"
            ? `the hub has ${limits.total} Unix connections open, its maximum (maxConnections ${limits.maxTotal})`
            : `that uid has ${limits.maxPerUid} Unix connections open, the maximum per uid (maxConnectionsPerUid)`;
        const message = `too many connections: ${cap}`;
        refuseConnection(socket, message);
        report({
          limit: admitted,
          uid: credentials?.uid,
          pid: credentials?.pid,
          message: `refused a Unix connection from ${who}: ${cap}`,
        });
        return;
      }
      const { connection } = openSession(transportFor(socket), {
        ...options.limits,
        role: "server",
        codecs: [cborCodec, jsonCodec],
        descriptors: unixDescriptors,
        keepAlive: options.keepAlive,
        handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      });
      connections.add(connection);
      void connection.closed.then(() => {
        connections.delete(connection);
        admitted();
      });
      serveHubSession(hub, connection, unixIdentity(credentials));
    },
  };
  const server = await FdServer.listen(stripUrl(path), serverOptions);
  return {
    path: server.path,
    get connections() {
      return limits.total;
    },
    close: async () => {
      await server.close();
      for (const connection of [...connections]) connection.close("the hub is shutting down");
    },
  };
}

function positiveLimit(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError(
      `listenUnix: ${name} must be a whole number of connections >= 1, got ${value}`,
    );
  }
  return value;
}

/** Passes refusals on at most once a second, counting the ones in between into the next. */
function refusalReporter(
  onRefused: ((refusal: UnixConnectionRefusal) => void) | undefined,
): (refusal: UnixConnectionRefusal) => void {
  let lastAt = -Infinity;
  let skipped = 0;
  return (refusal) => {
    if (onRefused === undefined) return;
    const now = Date.now();
    if (now - lastAt < 1000) {
      skipped++;
      return;
    }
    lastAt = now;
    const more = skipped === 0 ? "" : ` (and ${skipped} more refused since the last such line)`;
    skipped = 0;
    onRefused({ ...refusal, message: refusal.message + more });
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
  /**
   * Reconnect when the hub goes away (default on: `RECONNECT_DEFAULTS`), registering the
   * client's services again and re-opening its watches; `false` turns it off. See `RemoteHub`.
   */
  reconnect?: ReconnectOptions | boolean;
}

/**
 * Connects to a hub listening on a Unix socket; resolves once the session is established, or
 * rejects with `ConnectTimeoutError` after `connectTimeout` (default 10 s). The client
 * reconnects to the same path when the hub goes away (unless `reconnect: false`), each attempt
 * with the same bound.
 */
export async function connectUnix(path: string, options: UnixConnectOptions = {}): Promise<RemoteHub> {
  const timeout = options.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT_MS;
  if (!(Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidArgumentError(`connectTimeout must be a positive number of ms, got ${String(timeout)}`);
  }
  if (options.keepAlive !== undefined) verifyKeepAlive(options.keepAlive);
  const reconnect = verifyReconnectOptions(options.reconnect);
  const dial = (): Promise<WireConnection> => openUnixSession(path, options, timeout);
  return new RemoteHub(await dial(), { dial, reconnect });
}

async function openUnixSession(
  path: string,
  options: UnixConnectOptions,
  timeout: number,
): Promise<WireConnection> {
  const file = stripUrl(path);
  const address = `unix://${file}`;
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
  const { connection } = session;
  // A hub that refuses the connection (over its connection caps) sends GOAWAY right after its
  // HELLO: the session is then closed before it was ever used, and that is this call's failure.
  if (connection.isClosed)
    throw (await connection.closed) ?? new ConnectionLostError("the hub closed the session");
  return connection;
}
