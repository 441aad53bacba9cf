/**
 * beamhub — a Beam-style service hub. This is the public entry point: everything a user needs
 * is exported from here, with its types.
 */
export * from "./hub/index.js";
export * from "./transports/memory/index.js";
export * from "./transports/unix/index.js";
export * from "./transports/http2/index.js";
export { RemoteHub } from "./wire/remote-hub.js";
export {
  ConnectionConfigError,
  ConnectionLostError,
  LimitExceededError,
  ProtocolError,
  SlowConsumerError,
} from "./wire/errors.js";
export { MemoryBudget } from "./wire/memory-budget.js";
export { DEFAULT_CONFIG, type ConnectionOptions } from "./wire/config.js";
export * from "./gateway/index.js";

/** The package version. */
export const VERSION = "0.1.0";
