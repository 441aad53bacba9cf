import type { ByteStream } from "../../model/byte-stream.js";
import type { Channel } from "../../model/channel.js";
import type { Labels } from "../names.js";
import type { SubscribeOptions } from "../../pubsub/index.js";
import type { CallerInfo, ServiceFilter, ServiceInfo } from "../types.js";
import type { TraceCarrier } from "../tracing/trace-context.js";

/** `subscribe`'s options as they travel (the hub checks them as `PubSub.subscribe` does). */
export type SubscribeWireOptions = Pick<
  SubscribeOptions,
  "history" | "echo" | "lag" | "ring" | "ringBytes" | "after"
>;

/**
 * The hub protocol: requests a client sends on the root channel (id 0), answered by the hub
 * (PROTOCOL.md, "Hub operations"). Everything else — calls into registered services, watch
 * events — travels on channels these requests carry.
 */
export type HubRequest =
  | CallRequest
  | { op: "register"; name: string; labels?: Labels; handler: Channel }
  | { op: "unregister"; id: string }
  | { op: "lookup"; name: string; labels?: Labels }
  | { op: "list"; filter?: ServiceFilter }
  | { op: "watch"; filter?: ServiceFilter; existing?: boolean; events: Channel }
  | { op: "sessions" }
  | { op: "instances"; filter?: ServiceFilter }
  | { op: "stats" }
  | { op: "publish"; channel: string; data: unknown; stream?: ByteStream }
  | { op: "channels" }
  | { op: "subscribe"; channel: string; options?: SubscribeWireOptions; events: Channel };

/**
 * What the hub sends, as EVENTs on a subscription's events channel: each message as the
 * subscriber would read it in-process (`{from, data, seq, time}`), or `{lagged: n}` where a
 * `drop-oldest` ring dropped `n`. The hub sends only as fast as the channel's event credit
 * allows; what waits meanwhile waits in the subscription's ring at the hub.
 */
export type SubscriptionEvent =
  | { from: string; data: unknown; seq: number; time: number; stream?: ByteStream }
  | { lagged: number; seq?: number; bytes?: number; at?: number };

/** A `call`: `traceparent`/`tracestate` carry the caller's trace context (PROTOCOL.md, "Trace context"). */
export interface CallRequest extends TraceCarrier {
  op: "call";
  name: string;
  data: unknown;
  options?: { timeout?: number; labels?: Labels; instance?: string; waitForService?: number | boolean };
}

/**
 * What the hub sends on a registration's handler channel for each call; `traceparent`/`tracestate`
 * name the hub's dispatch span (or the caller's span, from a hub that does not trace).
 */
export interface HandlerRequest extends TraceCarrier {
  data: unknown;
  service: ServiceInfo;
  caller: CallerInfo;
  deadline?: number;
}
