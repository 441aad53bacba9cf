import type { ByteStream, ByteStreamPort, ByteStreamSink } from "../model/byte-stream.js";
import { SENT_AT_ONCE, type Channel } from "../model/channel.js";
import { StreamResetError } from "../model/errors.js";
import { ForwardedAnswer } from "../model/forwarded-answer.js";

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
  // A request is passed on with its answer settling the one that arrived (no promise between).
  from.handle((data, context) => {
    const answer = new ForwardedAnswer();
    to.requestTo(data, { cancelWith: context }, answer);
    return answer;
  });
  void (async () => {
    const messages = from[Symbol.asyncIterator]();
    for (;;) {
      // What already arrived goes on without an iterator promise per message: a pub/sub
      // subscription's burst of events crosses here.
      let message = from.poll();
      if (message === undefined) {
        const result = await messages.next();
        if (result.done === true) break;
        message = result.value;
      }
      // No await while `to` takes events at once: an await per event was a turn of the
      // microtask queue per message for every subscriber of a fan-out.
      const sent = to.send(message.data);
      if (sent === SENT_AT_ONCE) continue;
      try {
        await sent;
      } catch {
        // `to` closed: what is left is dropped as it arrives, until `from` closes too.
      }
    }
  })().finally(() => to.close());
}

/**
 * Joins two byte stream ends back to back, both directions, with resets passed along. The ends
 * are driven through their ports (`ByteStream.openPort`): for those of `ByteStream.pair()` and
 * of transports a chunk crossing costs a call, not a web-streams `pipeTo` round of promises.
 */
export function spliceStreams(a: ByteStream, b: ByteStream): void {
  const portA = a.openPort();
  const portB = b.openPort();
  if (portA === undefined || portB === undefined) {
    const error = new StreamResetError("a spliced byte stream was already in use");
    a.reset(error);
    b.reset(error);
    return;
  }
  splicePorts(a, portA, b, portB);
}

function splicePorts(a: ByteStream, portA: ByteStreamPort, b: ByteStream, portB: ByteStreamPort): void {
  portA.start(new Forward(b, portA, portB));
  portB.start(new Forward(a, portB, portA));
}

/**
 * One direction of a splice: what arrives from `from` is written into `into`; a reset resets
 * `to`. A class, not an object literal of closures: V8 may pretenure a literal site's objects,
 * and an old sink whose closures reach the young ports and streams keeps them alive through every
 * scavenge until the next full collection (see model/memory-pipe.ts; issue 19).
 */
class Forward implements ByteStreamSink {
  constructor(
    private readonly to: ByteStream,
    private readonly from: ByteStreamPort,
    private readonly into: ByteStreamPort,
  ) {}

  data(chunk: Uint8Array): void {
    if (!this.into.write(chunk)) this.from.pause();
  }

  end(): void {
    this.into.end();
  }

  ending(): void {
    this.into.ending?.();
  }

  /** `from` may write again: let what `into` delivers (written into `from`) flow again. */
  drain(): void {
    this.into.resume();
  }

  reset(error: StreamResetError): void {
    this.to.reset(error);
  }
}
