import type { Context } from "@opentelemetry/api";
import { CborKept } from "../../codecs/cbor.js";
import type { ChannelRequestContext } from "../../model/channel.js";
import type { HandlerRequest } from "./hub-protocol.js";
import type { CallContext, CallerInfo, ServiceInfo } from "../types.js";

/**
 * What of a routed call's request a service's session keeps as bytes (`Channel.keepOnWire`):
 * `service` and `caller` are the same for every call of a registration and a calling session,
 * and a Unix caller's identity has a dozen fields; decoding both was ~1 µs per routed call at
 * the service (of ~1.3 µs for the whole request; 2026-12-06), for handlers that mostly never
 * look at them.
 */
export const KEEP_CALL_CONTEXT = { fields: ["service", "caller"] } as const;

/**
 * The context a service's handler gets for a call the hub routed to it: the request's
 * `service`, `caller` (decoded when first read) and `deadline`, and the channel request's
 * cancellation. A class rather than an object literal with a getter and an arrow per call: those
 * were made for every routed call (under tsx, each arrow also got a property of its own through
 * `__name`), and the service's CPU per routed call was ~3× its CPU per call over a direct
 * channel (issue 19, the hub hop).
 */
export class ServedCallContext implements CallContext {
  readonly deadline: number | undefined;
  #service: unknown;
  #caller: unknown;
  #traceContext: Context | undefined;
  readonly #request: ChannelRequestContext;

  constructor(message: HandlerRequest, request: ChannelRequestContext) {
    this.#service = message.service;
    this.#caller = message.caller;
    this.deadline = message.deadline;
    this.#request = request;
  }

  get service(): ServiceInfo {
    const service = this.#service;
    return (service instanceof CborKept ? (this.#service = service.decoded()) : service) as ServiceInfo;
  }

  get caller(): CallerInfo {
    const caller = this.#caller;
    return (caller instanceof CborKept ? (this.#caller = caller.decoded()) : caller) as CallerInfo;
  }

  get traceContext(): Context | undefined {
    return this.#traceContext;
  }

  /** This context, running in the serve span's `traceContext`. */
  tracedIn(traceContext: Context): this {
    this.#traceContext = traceContext;
    return this;
  }

  get signal(): AbortSignal {
    return this.#request.signal;
  }

  onCancel(listener: (reason: unknown) => void): void {
    this.#request.onCancel(listener);
  }
}
