/**
 * beamhub — a Beam-style service hub. This is the public entry point: everything a user needs
 * is exported from here, with its types.
 */
export * from "./hub/index.js";
export * from "./hub/remote/memory.js";
export * from "./hub/remote/unix.js";
export * from "./transports/http2/index.js";
export { connect, type ConnectOptions } from "./hub/connect.js";
export { listen, type HubListener, type ListenOptions } from "./hub/listen.js";
export { HubUrlError, UnknownSchemeError } from "./hub/hub-url.js";
export type { ConnectedHub } from "./hub/remote/connected-hub.js";
export { attachHub, type AttachedHub } from "./hub/remote/attach-https.js";
export { connectHttps, HttpsRemoteHub, type ConnectHttpsOptions } from "./hub/remote/connect-https.js";
export type { HubServerOptions } from "./hub/remote/https-handlers.js";
export { listenHttps, type HttpsListener, type ListenHttpsOptions } from "./hub/remote/listen-https.js";
export { MAX_CALL_TIMEOUT } from "./hub/http-api/call-timeout.js";
export {
  DEFAULT_RECONNECT_WAIT,
  RemoteHub,
  type RemoteHubOptions,
  type RemoteHubState,
} from "./hub/remote/remote-hub.js";
export {
  DisconnectedEvent,
  GaveUpEvent,
  ReconnectedEvent,
  type RemoteHubEventMap,
  type ReRegistration,
  type ReRegistrationFailure,
} from "./hub/remote/remote-hub-events.js";
export {
  ReconnectGaveUpError,
  ReconnectTimeoutError,
  RequestInterruptedError,
} from "./hub/remote/reconnect-errors.js";
export { RECONNECT_DEFAULTS, type ReconnectOptions } from "./hub/remote/reconnect-options.js";
export type { RemoteWatch, RemoteWatchEvent } from "./hub/remote/remote-watch.js";
export {
  ConnectionConfigError,
  ConnectionLostError,
  ConnectTimeoutError,
  LimitExceededError,
  ProtocolError,
  SlowConsumerError,
} from "./wire/errors.js";
export { MemoryBudget } from "./wire/memory-budget.js";
export { DEFAULT_CONFIG, type ConnectionOptions } from "./wire/config.js";
export * from "./gateway/index.js";

/** The package version. */
export const VERSION = "0.1.0";
