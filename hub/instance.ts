import { LinkedList, type Link } from "../model/linked-list.js";
import type { Scope } from "../model/scope.js";
import type { CallStats } from "./stats/call-stats.js";
import type { Handler, ServiceInfo } from "./types.js";

/** The calls an instance is serving, so they can fail over when it goes away. */
export interface InstanceCall {
  /** The call's membership in its instance's `pending` list. */
  readonly instanceLink: Link<InstanceCall>;
  instanceGone(why: string): void;
}

/** A registered instance: its public info, its handler and the calls it is serving. */
export class Instance {
  readonly pending = new LinkedList<InstanceCall>();
  active = true;
  /** When it registered, in milliseconds since the epoch. */
  readonly registeredAt = Date.now();

  constructor(
    readonly info: ServiceInfo,
    readonly handler: Handler,
    /** The registering session's scope: attachments this instance sends or receives close with it. */
    readonly scope: Scope,
    /** Its call counts and latencies; undefined when the hub keeps none (`stats: false`). */
    readonly stats?: CallStats,
    /**
     * Serves only when no other instance matches a call: a cluster's stand-in for an instance
     * on another host (same host first).
     */
    readonly fallback = false,
  ) {}
}
