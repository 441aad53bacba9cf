import type { HubStats, InstanceInfo } from "../stats/hub-stats.js";
import type { SessionInfo } from "../stats/session-info.js";
import type { HubClient, ServiceFilter } from "../types.js";
import type { RemoteHubEventMap } from "./remote-hub-events.js";
import type { RemoteHubState } from "./remote-hub.js";

/**
 * A hub reached through `connect(url)`, with the same methods whatever the transport: a
 * `RemoteHub` over a Unix socket or HTTPS, a {@link MemoryHub} in this process.
 */
export interface ConnectedHub extends HubClient {
  /** `"connected"`, `"reconnecting"` (a remote hub that lost its connection) or `"closed"`. */
  readonly state: RemoteHubState;
  /**
   * Resolves once the client is closed for good: with `undefined` after `close()`, else with
   * why (the hub closed, the client gave up reconnecting, ...).
   */
  readonly closed: Promise<Error | undefined>;
  /**
   * The hub's open sessions: transport, address or Unix credentials, identity, traffic. Refused
   * (`EFORBIDDEN`) unless the access rules let this client call `hub.sessions`.
   */
  sessionsInfo(): Promise<SessionInfo[]>;
  /**
   * Live instances with calls, errors and latency percentiles, of the services this client may
   * call. Refused unless the access rules let it call `hub.stats`.
   */
  instancesInfo(filter?: ServiceFilter): Promise<InstanceInfo[]>;
  /** The hub's figures (sessions by transport, traffic, calls per service), as `instancesInfo` allows. */
  stats(): Promise<HubStats>;
  /** Listens for `disconnected`, `reconnected` or `gave-up` (a memory hub never sends them). */
  addEventListener<K extends keyof RemoteHubEventMap>(
    type: K,
    listener: (event: RemoteHubEventMap[K]) => void,
    options?: Parameters<EventTarget["addEventListener"]>[2],
  ): void;
  removeEventListener<K extends keyof RemoteHubEventMap>(
    type: K,
    listener: (event: RemoteHubEventMap[K]) => void,
    options?: Parameters<EventTarget["removeEventListener"]>[2],
  ): void;
}
