/**
 * The identity of a Unix socket peer, from the kernel's credentials of the connecting process.
 *
 * Over HTTPS a peer proves who it is (certificate, token); on a Unix socket the kernel already
 * knows: `SO_PEERCRED` gives the uid, gid and pid of the process that called `connect()`, and
 * the peer cannot choose them. Every Unix session gets a {@link UnixIdentity} from them.
 * @module
 */
import type { Identity } from "../types.js";
import { loadFdAddon, type PeerCredentials } from "../../fd/index.js";
import { groupIdsOfMember, groupName, userName } from "./user-database.js";

/**
 * How a Unix socket peer is identified; handlers see it as `context.caller.identity`.
 *
 * - `id` is `"unix:<login name>"` (e.g. `"unix:alice"`), `"unix:<uid>"` when the user database
 *   does not name the uid, and `"unix"` alone when the credentials are unknown (an addon built
 *   without `peerCredentials`): such a peer is nobody in particular, and access rules treat it
 *   as anonymous, never as the hub's own user.
 * - `uid`, `gid`, `pid`: the kernel's credentials at connect time (`pid` is the process that
 *   connected; it may have exited or passed the socket on since). Absent when unknown.
 * - `user`: the login name of `uid`, when the user database has one.
 * - `gids` / `groups`: the peer's effective gid first, then its supplementary groups (from the
 *   kernel where it tells, else from `/etc/group` membership of `user`), as ids and as names
 *   (the decimal id where a group has no name).
 */
export interface UnixIdentity extends Identity {
  readonly id: string;
  readonly via: "unix";
  readonly uid?: number;
  readonly gid?: number;
  readonly pid?: number;
  readonly user?: string;
  readonly gids?: readonly number[];
  readonly groups?: readonly string[];
}

/** The identity for a peer with these credentials (undefined: unknown). */
export function unixIdentity(credentials: PeerCredentials | undefined): UnixIdentity {
  if (credentials === undefined) return Object.freeze({ id: "unix", via: "unix" });
  const { uid, gid, pid } = credentials;
  const user = userName(uid);
  const supplementary = credentials.groups ?? (user === undefined ? [] : groupIdsOfMember(user));
  const gids = [...new Set([gid, ...supplementary])];
  return Object.freeze({
    id: `unix:${user ?? uid}`,
    via: "unix",
    uid,
    gid,
    ...(pid === undefined ? {} : { pid }),
    ...(user === undefined ? {} : { user }),
    gids: Object.freeze(gids),
    groups: Object.freeze(gids.map((id) => groupName(id) ?? String(id))),
  });
}

/** Whether `identity` is a Unix peer's identity whose credentials the kernel gave. */
export function hasUnixCredentials(identity: Identity | undefined): identity is UnixIdentity & {
  uid: number;
  gid: number;
  gids: readonly number[];
  groups: readonly string[];
} {
  return identity?.via === "unix" && typeof (identity as UnixIdentity).uid === "number";
}

/**
 * Whether this process can identify Unix peers: the addon loads and was built with
 * `peerCredentials` (an addon built from older sources lacks it; every peer is then `"unix"`,
 * unknown, and access rules treat it as anonymous). Never throws.
 */
export function peerCredentialsAvailable(): boolean {
  try {
    return loadFdAddon().peerCredentials !== undefined;
  } catch {
    return false;
  }
}
