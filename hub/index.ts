export { ByteStream, type ByteStreamOptions } from "./byte-stream.js";
export { Cancellation, type Cancelable } from "./cancellation.js";
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
} from "./channel.js";
export {
  BeamhubError,
  CallAbortedError,
  CallTimeoutError,
  ClosedError,
  ForbiddenError,
  InvalidArgumentError,
  InvalidMessageError,
  InvalidNameError,
  LaggedError,
  ServiceError,
  ServiceGoneError,
  ServiceNotFoundError,
  StreamResetError,
  type RemoteErrorInfo,
} from "./errors.js";
export { FileDescriptor, type DescriptorKind, type DescriptorValue } from "./file-descriptor.js";
export { Hub, type AccessRules, type HubOptions } from "./hub.js";
export { validateLabels, validateName, type Labels } from "./names.js";
export { Session, type SessionOptions } from "./session.js";
export type * from "./types.js";
