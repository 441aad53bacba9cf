/**
 * beamhub's plumbing, for the package's own command, tests and benchmarks: the constants of the
 * HTTP routes and the hand-off socket, the splice and address helpers, the building blocks behind
 * sessions and channels. **Unstable**: anything here may change or go in any release; a program
 * using beamhub imports `beamhub` (and `beamhub/codecs`, `beamhub/kv`) instead.
 *
 * @packageDocumentation
 */

// The message model's building blocks (a program gets these from a hub or a channel).
export { Session } from "./hub/session.js";
export { Cancellation } from "./model/cancellation.js";
export type { ChannelLink, ReplySink } from "./model/channel.js";

// The Unix transport's defaults and checks, as `beamhub serve` applies them.
export {
  DEFAULT_MAX_UNIX_CONNECTIONS,
  DEFAULT_MAX_UNIX_CONNECTIONS_PER_UID,
} from "./transports/unix/connection-limits.js";
export { unixIdentity } from "./hub/remote/unix-identity.js";
export {
  checkSocketDirectory,
  checkSocketFile,
  type SocketDirectoryPolicy,
} from "./transports/unix/socket-directory.js";

// The HTTPS transport's routes, tuning and certificate checks.
export {
  CALL_PATH,
  SERVICES_PATH,
  SESSION_CONTENT_TYPE,
  SESSION_PATH,
  TIMEOUT_HEADER,
  WEBSOCKET_PATH,
  WEBSOCKET_PROTOCOL,
} from "./transports/http2/paths.js";
export { HTTP2_TUNING } from "./transports/http2/tuning.js";
export { MAX_CALL_TIMEOUT } from "./hub/http-api/call-timeout.js";
export { certificateCovers, DEV_CERTIFICATE_HOSTS } from "./transports/http2/dev-certificate.js";

// The gateway's parts: addresses, byte copying, the hand-off socket and its library.
export { parseListen, parseTarget, type TcpAddress } from "./gateway/address.js";
export { spliceSockets } from "./gateway/splice.js";
export { resetSocket, spliceSocketStream } from "./wire/socket-stream.js";
export { HANDOFF_ENV, handoffLibraryPath } from "./gateway/handoff-library.js";
export { HANDOFF_REPLY, HANDOFF_REQUEST } from "./gateway/handoff-socket.js";
export type { GatewayReply, GatewayRequest } from "./gateway/types.js";

// What the beamhub command builds on beyond the public API (its own entry, like any client's).
export { isLoopbackHost } from "./base/loopback.js";
export { fdPassingUnavailable, loadFdAddon } from "./fd/index.js";
export { verifyConfig } from "./wire/config.js";
export { backoffDelay } from "./hub/remote/reconnect-options.js";
export { normalizeOrigin } from "./transports/http2/origin-policy.js";
export { TrustedProxies } from "./transports/http2/trusted-proxies.js";
export { parseDuration } from "./tasks/duration.js";
export { AppKeys } from "./tasks/app-keys.js";
export { AppIdentities } from "./tasks/app-identities.js";
export { parseHubId } from "./tasks/beam-id.js";

// The dashboard's channel rates, which `beamhub top` shows too.
export {
  channelPanel,
  type ChannelReadings,
  type ChannelRow,
  type PubSubPanel,
} from "./hub/dashboard/dashboard-channels.js";
// The dashboard's service rates, which `beamhub top` shows too.
export {
  serviceInterval,
  serviceReading,
  type ServiceInterval,
  type ServiceReading,
} from "./hub/dashboard/service-rates.js";
