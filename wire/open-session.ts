import { WireConnection, type ConnectionOptions } from "./connection.js";
import { DEFAULT_KEEP_ALIVE_MS, withKeepAlive, type AbortableTransport } from "./keep-alive.js";

/** Options of {@link openSession}: the connection's, plus how liveness is watched. */
export interface SessionOptions extends ConnectionOptions {
  /**
   * Keep-alive interval in ms (default 2000; 0 disables): PING after this much silence from
   * the peer, dead after twice this much (PROTOCOL.md, "Keep-alive").
   */
  keepAlive?: number;
  /**
   * The peer's HELLO must arrive within this many ms of opening, or the session is dropped
   * (default: no bound; clients bound their whole connect instead).
   */
  handshakeTimeout?: number;
}

/** A session and the means to drop it at once. */
export interface OpenedSession {
  readonly connection: WireConnection;
  /**
   * Ends the session with `reason` and closes the transport at once, without waiting for the
   * peer (for an unresponsive one).
   */
  abort(reason: string): void;
}

/**
 * Opens a beamhub session over `transport` with the keep-alive armed once the HELLOs were
 * exchanged: every transport (Unix, HTTP/2, WebSocket, browsers) gets its sessions here, so a
 * frozen or vanished peer is detected the same way on all of them.
 */
export function openSession(transport: AbortableTransport, options: SessionOptions): OpenedSession {
  const { keepAlive = DEFAULT_KEEP_ALIVE_MS, handshakeTimeout, ...connectionOptions } = options;
  const live = withKeepAlive(transport, keepAlive);
  const connection = new WireConnection(live, connectionOptions);
  const abort = (reason: string): void => {
    connection.close(reason);
    live.abort();
  };
  let handshake: ReturnType<typeof setTimeout> | undefined;
  if (handshakeTimeout !== undefined && handshakeTimeout > 0) {
    handshake = setTimeout(() => abort(`no HELLO within ${handshakeTimeout} ms`), handshakeTimeout);
    handshake.unref();
  }
  connection.ready.then(
    () => {
      clearTimeout(handshake);
      live.arm();
    },
    () => clearTimeout(handshake),
  );
  return { connection, abort };
}

/**
 * Waits for `session`'s handshake at most `ms`; on failure or when the time is up (with
 * `onTimeout()`'s error) the session is dropped at once, so nothing of it lingers.
 */
export async function handshakeWithin(
  session: OpenedSession,
  ms: number,
  onTimeout: () => Error,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, ms));
  });
  try {
    await Promise.race([session.connection.ready, late]);
  } catch (error) {
    session.abort("the handshake failed");
    throw error;
  } finally {
    clearTimeout(timer);
  }
}
