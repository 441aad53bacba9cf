export { ByteStream, type ByteStreamOptions } from "../model/byte-stream.js";
export { Cancellation, type Cancelable } from "../model/cancellation.js";
export {
  Channel,
  ChannelMessage,
  IncomingRequest,
  type ChannelHandler,
  type ChannelLink,
  type ChannelOptions,
  type ChannelRequestContext,
  type ChannelRequestOptions,
  type ReplySink,
} from "../model/channel.js";
export * from "../wire/error-classes.js";
export { FileDescriptor, type DescriptorKind, type DescriptorValue } from "../model/file-descriptor.js";
export { Hub, type AccessRules, type HubObserver, type HubOptions, type SlowCall } from "./hub.js";
export type { SessionInfo, SessionTransport } from "./stats/session-info.js";
export type { HubStats, InstanceInfo, ServiceStats } from "./stats/hub-stats.js";
export { validateLabels, validateName, type Labels } from "./names.js";
export { Session, type SessionOptions } from "./session.js";
export type * from "./types.js";
