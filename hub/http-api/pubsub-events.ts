import { jsonCodec } from "../../codecs/index.js";
import type { Lagged, PubSubMessage } from "../../pubsub/types.js";

/**
 * One pub/sub item as a server-sent event (PROTOCOL.md, "Pub/sub over server-sent events"):
 *
 * - a message: `id: <seq>`, `event: message`, `data: {"seq","from","time","data"}`, the data in
 *   FORMATS.md's JSON form (binary as `{"$bytes": "<base64>"}`, a bigint as `{"$bigint": "…"}`, a
 *   one-member object whose name starts with `$` escaped as `{"$": {...}}`), the same form the
 *   plain call mapping answers in;
 * - a byte-stream broadcast: `event: broadcast` with the same fields (the bytes are not sent:
 *   an event stream carries text, and the copy is released at once, as `beamhub sub` does);
 * - a message whose data JSON cannot hold (e.g. a CBOR publisher's `NaN` or map):
 *   `event: unencodable` with `{"seq","from","time","message"}` saying why;
 * - a gap under drop-oldest: `event: lagged` with `{"lagged": n}` (and `seq`, `bytes`, `at`
 *   for a broadcast's gap), no `id`.
 *
 * Every `data` is one line: JSON text has no raw line breaks.
 */
export function eventOf(item: PubSubMessage | Lagged): string {
  if ((item as Partial<Lagged>).lagged !== undefined)
    return `event: lagged\ndata: ${JSON.stringify(item)}\n\n`;
  const message = item as PubSubMessage;
  const { seq, from, time } = message;
  const head = `id: ${seq}\nevent: ${message.stream === undefined ? "message" : "broadcast"}\n`;
  try {
    const body = jsonCodec.encode({
      seq,
      from,
      time,
      data: message.data === undefined ? null : message.data,
    });
    return `${head}data: ${Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString("utf8")}\n\n`;
  } catch (error) {
    const why = `the message cannot be sent as JSON: ${(error as Error).message}`;
    return `id: ${seq}\nevent: unencodable\ndata: ${JSON.stringify({ seq, from, time, message: why })}\n\n`;
  }
}

/** A comment line: `EventSource` ignores it, and it keeps proxies from timing the stream out. */
export const KEEP_ALIVE = ": keep-alive\n\n";
