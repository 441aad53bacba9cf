/**
 * The hub's face on Unix sockets: `listenUnix` / `connectUnix`, how a Unix peer is identified,
 * direct channels, and the Unix transport's public knobs.
 * @module
 */
export { connectUnix, type UnixConnectOptions } from "./connect-unix.js";
export { listenUnix } from "./listen-unix.js";
export type { UnixListener, UnixListenOptions } from "../../transports/unix/unix-listener.js";
export {
  DEFAULT_MAX_UNIX_CONNECTIONS,
  DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID,
  type UnixConnectionRefusal,
} from "../../transports/unix/connection-limits.js";
export {
  hasUnixCredentials,
  peerCredentialsAvailable,
  unixIdentity,
  type UnixIdentity,
} from "./unix-identity.js";
export {
  checkSocketDirectory,
  checkSocketFile,
  UnsafeSocketPathError,
  type SocketDirectoryPolicy,
} from "../../transports/unix/socket-directory.js";
export { fdPassingAvailable, FdUnavailableError, type PeerCredentials } from "../../fd/index.js";
export { acceptDirect, connectDirect, type DirectService } from "./direct.js";
