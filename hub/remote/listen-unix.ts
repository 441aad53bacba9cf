import type { Hub } from "../hub.js";
import {
  listenUnixSessions,
  type UnixListener,
  type UnixListenOptions,
} from "../../transports/unix/unix-listener.js";
import { serveHubSession } from "./hub-server.js";
import { unixIdentity } from "./unix-identity.js";

/**
 * Serves `hub` on a Unix socket at `path` (or `unix:///path`): every process that connects
 * gets a session and can register, call, stream and pass file descriptors. Each session's
 * identity is the peer's kernel credentials ({@link UnixIdentity}: `{id: "unix:alice", via:
 * "unix", uid, gid, pid, user, gids, groups}`), which the hub's access rules and handlers see.
 *
 * @example
 * ```ts
 * const hub = new Hub();
 * const listener = await listenUnix(hub, "/run/user/1000/beamhub.sock");
 * // ... later
 * await listener.close();
 * ```
 */
export function listenUnix(hub: Hub, path: string, options: UnixListenOptions = {}): Promise<UnixListener> {
  return listenUnixSessions(
    path,
    (session, peer) =>
      serveHubSession(hub, session.connection, unixIdentity(peer.credentials), { transport: "unix" }),
    options,
  );
}
