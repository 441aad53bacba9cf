/**
 * Pub/sub: named channels with history for late joiners, publications tagged by their
 * publisher's identity, and a slow-subscriber policy per subscription (conec's backpressure or
 * drop-oldest with `Lagged(n)`). The hub offers it as `hub.publish` / `hub.subscribe` on every
 * transport; this module is the in-process core every face is built on.
 * @module
 */
export { PubSub, type PublishedListener } from "./pubsub.js";
export { PubSubLog, type PubSubLogOptions } from "./history-log.js";
export { ChannelSubscription, isLagged } from "./subscription.js";
export type { Subscription } from "./subscription.js";
export { PUBSUB_DEFAULTS, verifyPubSubOptions, verifySubscribeOptions } from "./options.js";
export { MAX_CHANNEL_LENGTH, isValidChannelName, verifyChannelName } from "./channel-name.js";
export { MAX_PENDING_PUBLISHES } from "./topic.js";
export type { PubSubFigures } from "./pubsub-counters.js";
export type {
  ChannelInfo,
  HistoryLimits,
  LagPolicy,
  Lagged,
  PubSubMessage,
  PubSubOptions,
  PubSubPersistence,
  PublishOptions,
  SubscribeOptions,
} from "./types.js";
