/**
 * The part of the hub's pub/sub the face uses (pubsub/: `hub.pubsub`), named here so a member
 * reads without the rest of the hub.
 */
export interface MlesChannels {
  publish(channel: string, data: unknown, from: string): Promise<unknown>;
  subscribe(
    channel: string,
    subscriber: string,
    options: { history: number; echo: boolean; lag: "drop-oldest"; ring: number },
  ): AsyncIterable<{ readonly data: unknown } | { readonly lagged: number }> & { close(): void };
}
