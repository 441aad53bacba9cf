/**
 * fd passing over Unix domain sockets: the bottom of the Unix transport.
 *
 * - {@link FdSocket} / {@link FdServer}: a Unix stream connection that carries bytes and open
 *   file descriptors (SCM_RIGHTS), with batched writes, half-close and typed errors.
 * - {@link wrapFd} / {@link detachFd}: between raw fds and `net.Socket`/`net.Server`.
 * - {@link FdFifo}: the FIFO that matches received fds to frames.
 * - {@link socketPair}, {@link dupFd}, {@link closeFd}, {@link fdKind}: fd helpers.
 * - {@link loadFdAddon} / {@link fdPassingAvailable}: whether the native addon is usable. Without
 *   it every entry point above throws {@link FdUnavailableError} (`EFD_UNAVAILABLE`).
 * @module
 */
export {
  type FdAddon,
  type FdKind,
  fdPassingAvailable,
  fdPassingUnavailable,
  loadFdAddon,
  locateBuilt,
} from "./addon.js";
export { FdError, FdSocketError, type FdSocketErrorDetails, FdUnavailableError } from "./errors.js";
export { FdFifo } from "./fd-fifo.js";
export { closeFd, dupFd, fdAccessMode, fdKind, socketPair } from "./fd-ops.js";
export { FdServer, type FdServerEvents, type FdServerOptions } from "./fd-server.js";
export {
  FdSocket,
  type FdSocketConnectOptions,
  type FdSocketEvents,
  type FdSocketOptions,
  type FdSocketStats,
  type PeerCredentials,
} from "./fd-socket.js";
export { MAX_FDS_PER_SENDMSG } from "./write-queue.js";
export { detachFd, OwnedFd, type WrapFdOptions, type WrappedFd, wrapFd } from "./wrap-fd.js";
export { relaySockets, type RelayResult, type SocketRelay } from "./relay.js";
