/**
 * The dashboard's pub/sub panel: each channel the viewer may subscribe to, with its publish
 * rate and drops for slow subscribers over the viewer's last interval (from the difference of
 * two `channels()` listings: seq counts publications, `lagged` drops), its subscribers and the
 * history it keeps.
 * @module
 */
import type { ChannelInfo } from "../../pubsub/types.js";

/** At most this many channels travel in one snapshot (the count says how many there are). */
export const MAX_DASHBOARD_CHANNELS = 200;

/** One channel as the dashboard lists it. */
export interface ChannelRow {
  readonly name: string;
  readonly subscribers: number;
  /** Messages published per second over the last interval (the hub's 10 s rate in the first snapshot). */
  readonly messagesPerSecond: number;
  /** Messages dropped for slow subscribers per second over the last interval (0 in the first snapshot). */
  readonly laggedPerSecond: number;
  /** Messages dropped for slow subscribers since the channel came to be. */
  readonly lagged: number;
  /** Messages kept for late joiners and their estimated bytes. */
  readonly history: number;
  readonly historyBytes: number;
  /** Seq of the newest message. */
  readonly seq: number;
}

/** The pub/sub part of a snapshot. */
export interface PubSubPanel {
  /** Busiest first, at most {@link MAX_DASHBOARD_CHANNELS}. */
  readonly channels: readonly ChannelRow[];
  readonly channelCount: number;
  /** Over every channel listed: messages published and dropped per second. */
  readonly messagesPerSecond: number;
  readonly laggedPerSecond: number;
  readonly subscribers: number;
}

/** What the panel remembers of one listing to compute the next one's rates. */
export type ChannelReadings = ReadonlyMap<string, { readonly seq: number; readonly lagged: number }>;

/**
 * The panel for `channels`, listed `seconds` after `previous` (undefined: the first listing),
 * and the readings to hand to the next call.
 */
export function channelPanel(
  channels: readonly ChannelInfo[],
  previous: ChannelReadings | undefined,
  seconds: number,
): { panel: PubSubPanel; readings: ChannelReadings } {
  const readings = new Map<string, { seq: number; lagged: number }>();
  let messagesPerSecond = 0;
  let laggedPerSecond = 0;
  let subscribers = 0;
  const rows = channels.map((channel): ChannelRow => {
    // A remote hub of an older version lists no `lagged`.
    const lagged = (channel.lagged as number | undefined) ?? 0;
    readings.set(channel.name, { seq: channel.seq, lagged });
    const before = previous?.get(channel.name);
    // A channel forgotten and made again in between starts its seq over: no rate from that.
    const comparable = before !== undefined && seconds > 0 && before.seq <= channel.seq;
    const row: ChannelRow = {
      name: channel.name,
      subscribers: channel.subscribers,
      messagesPerSecond: comparable ? (channel.seq - before.seq) / seconds : channel.rate,
      laggedPerSecond: comparable ? Math.max(0, lagged - before.lagged) / seconds : 0,
      lagged,
      history: channel.history.count,
      historyBytes: channel.history.bytes,
      seq: channel.seq,
    };
    messagesPerSecond += row.messagesPerSecond;
    laggedPerSecond += row.laggedPerSecond;
    subscribers += row.subscribers;
    return row;
  });
  rows.sort(
    (a, b) =>
      b.messagesPerSecond - a.messagesPerSecond ||
      b.subscribers - a.subscribers ||
      (a.name < b.name ? -1 : a.name > b.name ? 1 : 0),
  );
  return {
    panel: {
      channels: rows.slice(0, MAX_DASHBOARD_CHANNELS),
      channelCount: rows.length,
      messagesPerSecond,
      laggedPerSecond,
      subscribers,
    },
    readings,
  };
}
