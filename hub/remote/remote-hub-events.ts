import type { ServiceInfo } from "../types.js";
import type { Labels } from "../names.js";
import type { ReconnectGaveUpError } from "./reconnect-errors.js";

/**
 * The connection to the hub was lost. In-flight requests have failed with
 * `RequestInterruptedError`; new ones wait for the reconnection (when `willReconnect`).
 */
export class DisconnectedEvent extends Event {
  constructor(
    /** Why the connection ended (the transport's or the peer's reason), if known. */
    readonly reason: Error | undefined,
    /** False when reconnection is off (`reconnect: false`): the client is now closed. */
    readonly willReconnect: boolean,
  ) {
    super("disconnected");
  }
}

/** A service registered again on the new connection: same name, labels and handler. */
export interface ReRegistration {
  readonly name: string;
  /** The instance on the lost connection (its id is gone from the hub). */
  readonly previous: ServiceInfo;
  /** The new instance (`registration.info` now returns it). */
  readonly current: ServiceInfo;
}

/** A service that could not be registered again (e.g. the restarted hub's rules forbid it). */
export interface ReRegistrationFailure {
  readonly name: string;
  readonly labels: Labels;
  readonly error: unknown;
}

/** The client is connected again, its services re-registered and its watches re-opened. */
export class ReconnectedEvent extends Event {
  constructor(
    /** Attempts it took (1: the first one succeeded). */
    readonly attempts: number,
    /** Milliseconds between losing the connection and this event. */
    readonly downtime: number,
    /** Each live registration's old and new instance. */
    readonly registrations: readonly ReRegistration[],
    /** Registrations that could not be restored; they are dropped. */
    readonly failures: readonly ReRegistrationFailure[],
  ) {
    super("reconnected");
  }
}

/** The client stopped trying: it is closed, and `error` is what everything waiting got. */
export class GaveUpEvent extends Event {
  constructor(readonly error: ReconnectGaveUpError) {
    super("gave-up");
  }
}

/** The events a `RemoteHub` dispatches, by type. */
export interface RemoteHubEventMap {
  disconnected: DisconnectedEvent;
  reconnected: ReconnectedEvent;
  "gave-up": GaveUpEvent;
}

type Listener = Parameters<EventTarget["addEventListener"]>[1];
type AddOptions = Parameters<EventTarget["addEventListener"]>[2];
type RemoveOptions = Parameters<EventTarget["removeEventListener"]>[2];

/**
 * An EventTarget whose listeners are typed by {@link RemoteHubEventMap}: what every hub that
 * `connect(url)` returns shares, whether it can lose its connection (`RemoteHub`) or not
 * (`MemoryHub`, which never sends these events).
 */
export class RemoteHubEventTarget extends EventTarget {
  /** Listens for `disconnected`, `reconnected` or `gave-up` (typed events). */
  override addEventListener<K extends keyof RemoteHubEventMap>(
    type: K,
    listener: (event: RemoteHubEventMap[K]) => void,
    options?: AddOptions,
  ): void;
  override addEventListener(type: string, listener: Listener, options?: AddOptions): void;
  override addEventListener(
    type: string,
    listener: Listener | ((event: never) => void),
    options?: AddOptions,
  ): void {
    super.addEventListener(type, listener as Listener, options);
  }

  /** Stops a listener added with {@link addEventListener}. */
  override removeEventListener<K extends keyof RemoteHubEventMap>(
    type: K,
    listener: (event: RemoteHubEventMap[K]) => void,
    options?: RemoveOptions,
  ): void;
  override removeEventListener(type: string, listener: Listener, options?: RemoveOptions): void;
  override removeEventListener(
    type: string,
    listener: Listener | ((event: never) => void),
    options?: RemoveOptions,
  ): void {
    super.removeEventListener(type, listener as Listener, options);
  }
}
