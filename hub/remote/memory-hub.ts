import type { Labels } from "../names.js";
import type { Session } from "../session.js";
import type { HubStats, InstanceInfo } from "../stats/hub-stats.js";
import type { SessionInfo } from "../stats/session-info.js";
import type {
  Broadcast,
  HubPublishOptions,
  CallOptions,
  Handler,
  HubSubscribeOptions,
  ChannelInfo,
  HubSubscription,
  Published,
  RegisterOptions,
  Registration,
  ServiceFilter,
  ServiceInfo,
  Watch,
  WatchOptions,
} from "../types.js";
import type { ConnectedHub } from "./connected-hub.js";
import { RemoteHubEventTarget } from "./remote-hub-events.js";
import type { RemoteHubState } from "./remote-hub.js";

/**
 * A hub in this process as `connect("memory:...")` returns it: a session on the hub, by
 * reference (nothing is serialized), with the face of a `RemoteHub` so that code written for
 * one transport runs on all. It never disconnects or reconnects: it is closed by `close()` or
 * when the hub closes.
 */
export class MemoryHub extends RemoteHubEventTarget implements ConnectedHub {
  /** The session on the hub that this client is. */
  readonly session: Session;
  readonly closed: Promise<Error | undefined>;
  #closedByUs = false;

  constructor(session: Session) {
    super();
    this.session = session;
    this.closed = new Promise((resolve) => {
      // The session's scope closes with it, whoever closes it: the hub, or this client.
      session.scope.own({
        close: (reason?: unknown) =>
          resolve(this.#closedByUs ? undefined : reason instanceof Error ? reason : undefined),
        addOwner: () => undefined,
      });
    });
  }

  get state(): RemoteHubState {
    return this.session.isClosed ? "closed" : "connected";
  }

  register<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options?: RegisterOptions,
  ): Promise<Registration> {
    return this.session.register(name, handler, options);
  }

  call<Reply = unknown>(name: string, data?: unknown, options?: CallOptions): Promise<Reply> {
    return this.session.call<Reply>(name, data, options);
  }

  lookup(name: string, options?: { labels?: Labels }): Promise<ServiceInfo[]> {
    return this.session.lookup(name, options);
  }

  list(filter?: ServiceFilter): Promise<ServiceInfo[]> {
    return this.session.list(filter);
  }

  watch(options?: WatchOptions): Watch {
    return this.session.watch(options);
  }

  sessionsInfo(): Promise<SessionInfo[]> {
    return this.session.sessionsInfo();
  }

  instancesInfo(filter?: ServiceFilter): Promise<InstanceInfo[]> {
    return this.session.instancesInfo(filter);
  }

  stats(): Promise<HubStats> {
    return this.session.stats();
  }

  publish(channel: string, data: unknown, options?: HubPublishOptions): Promise<Published> {
    return this.session.publish(channel, data, options);
  }

  broadcast(channel: string, data?: unknown): Promise<Broadcast> {
    return this.session.broadcast(channel, data);
  }

  subscribe(channel: string, options?: HubSubscribeOptions): HubSubscription {
    return this.session.subscribe(channel, options);
  }

  channels(): Promise<ChannelInfo[]> {
    return this.session.channels();
  }

  async close(): Promise<void> {
    if (!this.session.isClosed) this.#closedByUs = true;
    await this.session.close();
    await this.closed;
  }
}
