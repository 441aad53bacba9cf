import { ROOT_CONTEXT } from "@opentelemetry/api";
import type { Hub } from "../hub.js";
import type { CallerInfo, Identity, Registration, ServiceInfo } from "../types.js";
import { cborCodec } from "../../codecs/cbor.js";
import { CborEncoded } from "../../codecs/cbor-encoded.js";
import { checkFilter } from "../arguments.js";
import { closeAttachments } from "../../model/attachments.js";
import { Channel, SENT_AT_ONCE } from "../../model/channel.js";
import { describeValue } from "../../model/durations.js";
import { ByteStream } from "../../model/byte-stream.js";
import { InvalidArgumentError } from "../../model/errors.js";
import type { SessionTransport } from "../stats/session-info.js";
import type { ChannelSubscription, PubSubMessage } from "../../pubsub/index.js";
import { EncodedOnce } from "../../wire/encoded-once.js";
import type { WireConnection } from "../../wire/connection.js";
import type { HandlerRequest, HubRequest } from "./hub-protocol.js";
import { extractTraceContext, injectTraceContext } from "../tracing/trace-context.js";
import { CborKept } from "../../codecs/cbor.js";
import { routesEncoded, RoutedReply } from "../routed-reply.js";

/**
 * Call requests keep their `data` as the bytes it came in where the codec can: the hub routes
 * it to the service's session unread (issue 19, cut-through at the hub hop).
 */
const KEEP_DATA = { fields: ["data"] } as const;

/** What carried a served session and where from, for `hub.sessionsInfo()`. */
export interface ServedPeer {
  readonly transport: Exclude<SessionTransport, "local" | "memory">;
  readonly remoteAddress?: string | undefined;
}

/**
 * Serves the hub protocol on a connection's root channel: the connected peer becomes a session
 * of `hub` and can register, call, look up and watch like an in-process participant. When the
 * connection ends, the session closes: its registrations go, its calls fail.
 */
export function serveHubSession(
  hub: Hub,
  connection: WireConnection,
  identity?: Identity,
  peer?: ServedPeer,
): void {
  const session = hub.session({
    identity,
    maxCallTimeout: hub.maxPeerCallTimeout,
    peer: {
      ...peer,
      // The wire's counters, read when someone asks (hub.sessionsInfo(), a scrape).
      traffic: () => connection.stats,
    },
  });
  const registrations = new Map<string, Registration>();
  void connection.closed.then((reason) => session.close(reason));
  connection.keepOnRoot = KEEP_DATA;

  connection.root.handle((request, context) => {
    const message = request as HubRequest;
    if (message?.op === "call") {
      // The hot path: no async wrapper, no extra promise, no options object of our own. A call
      // without trace context starts from the root context, never from whatever is active here.
      const parent =
        message.traceparent === undefined ? ROOT_CONTEXT : (extractTraceContext(message) ?? ROOT_CONTEXT);
      // A CBOR caller can take a reply that stays as the bytes the service sent.
      const forwardsReply = connection.codec === cborCodec;
      return session.callRaw(message.name, message.data, message.options, context, parent, forwardsReply);
    }
    // Only a call's data is routed unread: whatever else carries data is decoded for the hub.
    if (message !== null && typeof message === "object" && "data" in message) {
      if (message.data instanceof CborKept) message.data = message.data.decoded();
    }
    return serveOperation(message).catch((error: unknown) => {
      // A refused operation keeps nothing it carried: a handler or events channel nobody will
      // use is closed with the reason, so the peer's end does not wait on it.
      closeAttachments(message, error);
      throw error;
    });
  });

  async function serveOperation(message: HubRequest): Promise<unknown> {
    switch (message?.op) {
      case "register": {
        // Checked before registering: a registration is all or nothing (a handler that is not a
        // channel once left an instance behind that failed every call routed to it).
        const handler = expectChannel(message.handler, "register's handler");
        const cbor = connection.codec === cborCodec;
        const registration: Registration = await session.register(
          message.name,
          // Routes each call to the peer: its data and, for a caller that passes it on, its
          // reply stay the bytes they came in over CBOR (`routesEncoded`, `keepEncoded`).
          routesEncoded((data, context) => {
            const request: HandlerRequest = {
              data: !cbor && data instanceof CborKept ? data.decoded() : data,
              service: preencoded(connection, context.service),
              caller: preencoded(connection, context.caller),
              deadline: context.deadline,
            };
            if (context.traceContext !== undefined) injectTraceContext(context.traceContext, request);
            // The handler channel closing under the call means the instance is gone (its peer
            // unregistered or died): RoutedReply unregisters it first, so the call fails over.
            const reply = new RoutedReply(handler, () => registration.unregister());
            const keepEncoded = cbor && (context as { forwardsReply?: boolean }).forwardsReply === true;
            handler.requestTo(request, { cancelWith: context, keepEncoded }, reply);
            return reply;
          }),
          { labels: message.labels },
        );
        registrations.set(registration.info.id, registration);
        // The registering peer closing the handler channel unregisters, like disposing it.
        void handler.closed.then(() => {
          registrations.delete(registration.info.id);
          return registration.unregister();
        });
        return registration.info;
      }
      case "unregister": {
        if (typeof message.id !== "string") {
          throw new InvalidArgumentError(
            `unregister's id must be a string, got ${describeValue(message.id)}`,
          );
        }
        const registration = registrations.get(message.id);
        registrations.delete(message.id);
        await registration?.unregister();
        return registration !== undefined;
      }
      case "lookup":
        return session.lookup(message.name, { labels: message.labels });
      case "list":
        return session.list(message.filter);
      case "sessions":
        return session.sessionsInfo();
      case "instances":
        return session.instancesInfo(message.filter);
      case "stats":
        return session.stats();
      case "watch": {
        const events = expectChannel(message.events, "watch's events");
        const watch = session.watch({ ...checkFilter(message.filter), existing: message.existing });
        void events.closed.then(() => watch.close());
        void (async () => {
          for await (const event of watch) await events.send(event);
        })()
          .catch((error: unknown) => events.close(error))
          .finally(() => events.close());
        return true;
      }
      case "publish": {
        const { stream } = message;
        if (stream === undefined) return session.publish(message.channel, message.data);
        if (!(stream instanceof ByteStream)) {
          throw new InvalidArgumentError(
            `publish's stream must be a byte stream, got ${describeValue(stream)}`,
          );
        }
        return session.publish(message.channel, message.data, { stream });
      }
      case "channels":
        return session.channels();
      case "subscribe": {
        const events = expectChannel(message.events, "subscribe's events");
        const options = message.options ?? {};
        if (options === null || typeof options !== "object" || Array.isArray(options)) {
          throw new InvalidArgumentError(
            `subscribe's options must be an object, got ${describeValue(options)}`,
          );
        }
        // Only the options the protocol names: a peer cannot pass a signal or anything else.
        const { history, echo, lag, ring, ringBytes, after } = options;
        const subscription = session.subscribe(message.channel, {
          history,
          echo,
          lag,
          ring,
          ringBytes,
          after,
        });
        void events.closed.then(() => subscription.close());
        forward(subscription, events)
          .catch((error: unknown) => events.close(error))
          .finally(() => {
            subscription.close();
            events.close();
          });
        return true;
      }
      default:
        throw new InvalidArgumentError(
          `unknown hub operation ${describeValue((message as { op?: unknown })?.op)}`,
        );
    }
  }
}

/**
 * Sends a subscription's messages as events, one at a time as credit allows: while the peer
 * grants none, messages wait in the subscription's ring at the hub (bounded; the ring drops or
 * the publisher waits, as the subscriber chose), never in the session's send queue. A pump,
 * not an async loop: a delivery makes no promise of its own while the peer has credit (an
 * `await` per send and a `readable()` promise per message were a fifth of the hub's CPU per
 * delivery in a fan-out).
 */
function forward(subscription: ChannelSubscription, events: Channel): Promise<void> {
  return new Promise((resolve, reject) => {
    const pump = (): void => {
      for (;;) {
        const item = subscription.take();
        if (item === null) return resolve();
        if (item === undefined) return subscription.whenReadable(pump);
        const sent = events.send("lagged" in item || item.stream !== undefined ? item : encodedOnce(item));
        // Out of credit (or failed): go on once the peer granted more.
        if (sent !== SENT_AT_ONCE) return void sent.then(pump, reject);
      }
    };
    pump();
  });
}

/**
 * The bytes of the publications sent this turn, in slots by seq: a publication's subscribers take
 * it one after another, but each takes a run of them (as much as its credit allows) before the
 * next one does, so "the one sent last" rarely matched and a WeakMap lookup per delivery was most
 * of what remained. A slot holds its message only until the end of the turn (a large message is
 * not kept alive by this cache); a slot taken by another channel's message of the same seq, or
 * a turn's end, only sends the lookup on to the WeakMap.
 */
const SLOTS = 256;
const slotMessages: (PubSubMessage | undefined)[] = new Array<PubSubMessage | undefined>(SLOTS);
const slotEncodings: (EncodedOnce | undefined)[] = new Array<EncodedOnce | undefined>(SLOTS);
let slotsUsed = false;
const forgetSlots = (): void => {
  slotMessages.fill(undefined);
  slotEncodings.fill(undefined);
  slotsUsed = false;
};

/** Each publication's bytes, shared by every session that sends it (see `EncodedOnce`). */
const encodings = new WeakMap<PubSubMessage, EncodedOnce>();

function encodedOnce(message: PubSubMessage): EncodedOnce {
  const slot = message.seq & (SLOTS - 1);
  if (slotMessages[slot] === message) return slotEncodings[slot]!;
  let encoded = encodings.get(message);
  if (encoded === undefined) {
    // Only the fields of the protocol's event: a message object is the subscriber's to read.
    const { from, data, seq, time } = message;
    encodings.set(message, (encoded = new EncodedOnce({ from, data, seq, time })));
  }
  if (!slotsUsed) {
    slotsUsed = true;
    setImmediate(forgetSlots);
  }
  slotMessages[slot] = message;
  slotEncodings[slot] = encoded;
  return encoded;
}

/**
 * `service` and `caller` of the requests routed to a service over a CBOR session, encoded once
 * each (per registration, per calling session) instead of once per call: for a Unix caller the
 * two were most of the hub's encoding work per routed call (issue 19, "the hub hop"). Both
 * objects are frozen by the hub, so their bytes cannot go stale. Over other codecs, as they are.
 */
const preencodings = new WeakMap<object, CborEncoded>();

function preencoded<T extends ServiceInfo | CallerInfo>(connection: WireConnection, value: T): T {
  if (connection.codec !== cborCodec) return value;
  let encoded = preencodings.get(value);
  if (encoded === undefined) preencodings.set(value, (encoded = new CborEncoded(value)));
  // The peer receives the same bytes; only the types here differ.
  return encoded as unknown as T;
}

function expectChannel(value: unknown, what: string): Channel {
  if (value instanceof Channel) return value;
  throw new InvalidArgumentError(`${what} must be a channel, got ${describeValue(value)}`);
}
