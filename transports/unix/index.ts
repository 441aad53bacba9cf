/**
 * The Unix transport: sessions over a Unix stream socket, with file descriptors. It knows no
 * hub: a listener hands each session to an acceptor, a dialer returns an opened session.
 * @module
 */
export {
  listenUnixSessions,
  type UnixAcceptor,
  type UnixListener,
  type UnixListenOptions,
  type UnixPeer,
} from "./unix-listener.js";
export { dialUnix, type UnixDialOptions } from "./unix-dialer.js";
export { stripUnixUrl } from "./unix-address.js";
export {
  DEFAULT_MAX_UNIX_CONNECTIONS,
  DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID,
  type UnixConnectionRefusal,
} from "./connection-limits.js";
export {
  checkSocketDirectory,
  checkSocketFile,
  UnsafeSocketPathError,
  type SocketDirectoryPolicy,
} from "./socket-directory.js";
export { unixDescriptors } from "./descriptors.js";
export { transportFor } from "./unix-transport.js";
