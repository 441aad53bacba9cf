import { DEFAULT_CODECS } from "../../wire/config.js";
/**
 * A Unix socket listener that knows nothing of hubs: every admitted connection becomes a session
 * (`openSession`), handed with what the kernel says about the peer to the *acceptor* it was
 * given. The hub's `listenUnix` is one such acceptor; a test or another protocol can be another.
 * @module
 */
import { InvalidArgumentError } from "../../model/errors.js";
import type { ConnectionOptions, WireConnection } from "../../wire/connection.js";
import { verifyKeepAlive, type AbortableTransport } from "../../wire/keep-alive.js";
import { openSession, type OpenedSession } from "../../wire/open-session.js";
import { FdServer, fdPassingUnavailable, type PeerCredentials } from "../../fd/index.js";
import {
  DEFAULT_MAX_UNIX_CONNECTIONS,
  DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID,
  refuseConnection,
  UnixConnectionLimits,
  type UnixConnectionRefusal,
} from "./connection-limits.js";
import { unixDescriptors } from "./descriptors.js";
import { listenPlainUnix, plainTransportFor, unavailableDescriptors } from "./plain-socket.js";
import { stripUnixUrl } from "./unix-address.js";
import { transportFor } from "./unix-transport.js";

/** Default bound on a new session's HELLO at the listener. */
const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Options of a Unix listener (`listenUnix`). */
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

/** A listening Unix socket. */
export interface UnixListener {
  readonly path: string;
  /** Connections open now. */
  readonly connections: number;
  /** Stops accepting and closes every session. */
  close(): Promise<void>;
}

/** What the listener knows of a connected peer. */
export interface UnixPeer {
  /**
   * The kernel's record of the connecting process; undefined when it cannot be read. Without
   * the addon the kernel cannot be asked: on a socket only its owner may open (no group or other
   * bits in `mode`, as by default) the peer can only be the owner (or root), and it gets the
   * owner's uid and gid, without pid; on a wider socket it is unknown.
   */
  readonly credentials: PeerCredentials | undefined;
}

/**
 * Takes each new session of a listener. It is called before the HELLOs were exchanged; the
 * session's `connection.ready` settles with the handshake. The listener closes the session when
 * it is closed itself.
 */
export type UnixAcceptor = (session: OpenedSession, peer: UnixPeer) => void;

/**
 * Listens on a Unix socket at `path` (or `unix:///path`) and hands every admitted connection,
 * as a session speaking CBOR or JSON with fd passing, to `acceptor`. Connections over the caps
 * (`maxConnections`, `maxConnectionsPerUid`) are refused the protocol's way (HELLO, then GOAWAY
 * `ELIMIT`) and reported to `onRefused`. Without the fd addon (not built, or `BEAMHUB_NO_ADDON=1`)
 * it listens on a plain socket: sessions carry everything but descriptors (their HELLO says
 * `fds: false`, and sending one fails with `FdUnavailableError`).
 */
export async function listenUnixSessions(
  path: string,
  acceptor: UnixAcceptor,
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
  const unavailable = fdPassingUnavailable();
  const descriptors = unavailable === undefined ? unixDescriptors : unavailableDescriptors(unavailable);
  const accept = (transport: AbortableTransport, credentials: PeerCredentials | undefined): void => {
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
      refuseConnection(transport, `too many connections: ${cap}`);
      report({
        limit: admitted,
        uid: credentials?.uid,
        pid: credentials?.pid,
        message: `refused a Unix connection from ${who}: ${cap}`,
      });
      return;
    }
    const session = openSession(transport, {
      ...options.limits,
      role: "server",
      codecs: DEFAULT_CODECS,
      descriptors,
      keepAlive: options.keepAlive,
      handshakeTimeout: options.handshakeTimeout ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    });
    const { connection } = session;
    connections.add(connection);
    void connection.closed.then(() => {
      connections.delete(connection);
      admitted();
    });
    acceptor(session, { credentials });
  };
  const file = stripUnixUrl(path);
  const mode = options.mode ?? 0o600;
  let server: { readonly path: string; close(): Promise<void> };
  if (unavailable === undefined) {
    server = await FdServer.listen(file, {
      mode,
      batching: "microtask",
      onConnection: (socket) => accept(transportFor(socket), socket.peerCredentials()),
    });
  } else {
    const owner = (mode & 0o077) === 0 ? ownerCredentials() : undefined;
    server = await listenPlainUnix(file, mode, (socket) => accept(plainTransportFor(socket), owner));
  }
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

/** This process's uid and gid: who may open a socket whose mode admits only its owner. */
function ownerCredentials(): PeerCredentials | undefined {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid === undefined || gid === undefined) return undefined;
  return Object.freeze({ uid, gid, pid: undefined, groups: undefined });
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
