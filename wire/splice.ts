import type { ByteStream } from "../hub/byte-stream.js";
import type { Channel } from "../hub/channel.js";

/**
 * Joins two channel ends back to back: whatever arrives at one is sent out of the other, in
 * both directions, requests with their replies and cancellation, until either closes. A
 * transport uses it to carry a local channel end across a connection: the end the application
 * gave away is spliced to the end that speaks frames.
 */
export function spliceChannels(a: Channel, b: Channel): void {
  forward(a, b);
  forward(b, a);
}

/**
 * Forwards what arrives at `from` out of `to`. The close travels last: events that arrived
 * before `from` closed are still passed on, in order, before `to` closes.
 */
function forward(from: Channel, to: Channel): void {
  from.handle((data, context) => to.request(data, { cancelWith: context }));
  void (async () => {
    for await (const message of from) {
      await to.send(message.data).catch(() => undefined);
    }
  })().finally(() => to.close());
}

/** Joins two byte stream ends back to back, both directions, with resets passed along. */
export function spliceStreams(a: ByteStream, b: ByteStream): void {
  const pipe = (from: ByteStream, to: ByteStream): void => {
    from.readable.pipeTo(to.writable).catch((error: unknown) => {
      from.reset(error);
      to.reset(error);
    });
  };
  pipe(a, b);
  pipe(b, a);
}
