/**
 * The pub/sub part of a `beamhub top` frame: the channels' table, busiest first. The rows (rates
 * over the interval from two readings of `hub.channels()`) are the dashboard's, so both views
 * agree.
 * @module
 */
import type { ChannelRow } from "../internal.js";
import { formatBytes } from "./figures-format.js";
import { firstRowsTable } from "./output.js";

/** The channels' table of a frame (at most `maxRows`), or a line saying there are none. */
export function renderTopChannels(rows: readonly ChannelRow[], maxRows: number, total = rows.length): string {
  if (rows.length === 0) return "no pub/sub channels";
  return firstRowsTable(
    ["CHANNEL", "SUBS", "MSG/S", "LAGGED/S", "LAGGED", "HISTORY", "BYTES", "SEQ"],
    rows,
    maxRows,
    (row) => [
      row.name,
      String(row.subscribers),
      row.messagesPerSecond.toFixed(1),
      row.laggedPerSecond.toFixed(1),
      String(row.lagged),
      String(row.history),
      formatBytes(row.historyBytes),
      String(row.seq),
    ],
    { total, noun: "channels" },
  );
}
