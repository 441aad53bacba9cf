/**
 * The TCP gateway: {@link exposeTcp} serves a TCP endpoint as a hub service and
 * {@link connectTcp} makes a local port reach it — by fd hand-off on one host (the hub leaves
 * the data path) or by relaying bytes over a hub byte stream.
 * @module
 */
export { parseListen, parseTarget, type TcpAddress } from "./address.js";
export {
  connectTcp,
  LocalPortForward,
  type ConnectorStats,
  type ConnectTcpOptions,
  type GatewayMode,
  type TcpConnector,
} from "./connect.js";
export {
  GatewayError,
  GatewayProtocolError,
  InvalidAddressError,
  UpstreamError,
  type UpstreamErrorDetails,
} from "./errors.js";
export { exposeTcp, type ExposeTcpOptions, type ExposureStats, type TcpExposure } from "./expose.js";
export { resetSocket, spliceSocketStream, spliceSockets } from "./splice.js";
export type { GatewayLog, GatewayReply, GatewayRequest } from "./types.js";
export { handoffEnvironment, handoffLibraryPath, HANDOFF_ENV } from "./handoff-library.js";
export { HANDOFF_REPLY, HANDOFF_REQUEST } from "./handoff-socket.js";
