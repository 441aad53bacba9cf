/**
 * What pub/sub counts for the metrics: totals that only grow (a channel that goes idle and is
 * forgotten keeps its share here), read at scrape time with the live figures of the channels.
 * Three increments where the work already happens; nothing per channel, so peers that invent
 * channel names cannot grow a scraper's series.
 * @module
 */

/** Totals since the pub/sub started. */
export class PubSubCounters {
  /** Messages published (committed to their channel). */
  published = 0;
  /** Messages handed to a subscriber (queued for it or read at once), one per subscriber. */
  delivered = 0;
  /** Messages a `drop-oldest` subscriber lost because it read too slowly (told as `Lagged`). */
  dropped = 0;
}

/** Pub/sub's figures at one moment (`PubSub.figures()`, the `beamhub_pubsub_*` metrics). */
export interface PubSubFigures {
  /** Channels with subscribers, history or waiting publications. */
  readonly channels: number;
  /** Live subscriptions over all channels. */
  readonly subscribers: number;
  /** Messages kept for late joiners over all channels, and their estimated size. */
  readonly historyMessages: number;
  readonly historyBytes: number;
  readonly published: number;
  readonly delivered: number;
  readonly dropped: number;
}
