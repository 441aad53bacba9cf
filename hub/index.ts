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
export { Hub, type AccessRules, type HubOptions } from "./hub.js";
export { validateLabels, validateName, type Labels } from "./names.js";
export { Session, type SessionOptions } from "./session.js";
export type * from "./types.js";
