import { ByteStream } from "../model/byte-stream.js";
import type { Broadcast, HubPublishOptions, Published } from "./types.js";

/**
 * `broadcast()` of every hub client, on top of its `publish`: a stream pair, one end published
 * (the hub reads it), the other returned for the publisher to write into. A refused publication
 * resets the returned end too, so nothing is left open.
 */
export async function broadcastWith(
  publish: (channel: string, data: unknown, options: HubPublishOptions) => Promise<Published>,
  channel: string,
  data: unknown,
): Promise<Broadcast> {
  const [mine, theirs] = ByteStream.pair();
  try {
    const { seq, time } = await publish(channel, data ?? null, { stream: theirs });
    return { seq, time, stream: mine };
  } catch (error) {
    mine.reset(error);
    theirs.reset(error);
    throw error;
  }
}
