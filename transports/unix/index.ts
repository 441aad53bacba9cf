export {
  connectUnix,
  listenUnix,
  type UnixConnectOptions,
  type UnixListener,
  type UnixListenOptions,
} from "./unix-transport.js";
export {
  DEFAULT_MAX_UNIX_CONNECTIONS,
  DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID,
  type UnixConnectionRefusal,
} from "./connection-limits.js";
export {
  hasUnixCredentials,
  peerCredentialsAvailable,
  unixIdentity,
  type UnixIdentity,
} from "./peer-identity.js";
export {
  checkSocketDirectory,
  checkSocketFile,
  UnsafeSocketPathError,
  type SocketDirectoryPolicy,
} from "./socket-directory.js";
export { fdPassingAvailable, FdUnavailableError, type PeerCredentials } from "../../fd/index.js";
export { acceptDirect, connectDirect, type DirectService } from "./direct.js";
