import { Channel, type ChannelRequestOptions } from "../hub/channel.js";
import { validateLabels, validateName, type Labels } from "../hub/names.js";
import type {
  CallOptions,
  Handler,
  HubClient,
  Registration,
  RegisterOptions,
  ServiceFilter,
  ServiceInfo,
  Watch,
  WatchEvent,
  WatchOptions,
} from "../hub/types.js";
import type { WireConnection } from "./connection.js";
import type { HandlerRequest, HubRequest } from "./hub-protocol.js";

const NO_OPTIONS: CallOptions = Object.freeze({});

type CallWireOptions = NonNullable<Extract<HubRequest, { op: "call" }>["options"]>;

/** Extra time a client waits beyond a call's own timeout before giving up on the hub. */
const TIMEOUT_GRACE_MS = 1000;

/**
 * A hub across a connection, with the same API as one in this process: the compliance suite
 * runs exactly the same tests against it. Every operation is a request on the root channel;
 * handlers and watches get their own channels.
 */
export class RemoteHub implements HubClient {
  readonly #connection: WireConnection;
  readonly #root: Channel;

  constructor(connection: WireConnection) {
    this.#connection = connection;
    this.#root = connection.root;
  }

  /** The underlying connection (its `closed` promise tells when the hub went away). */
  get connection(): WireConnection {
    return this.#connection;
  }

  #request<T>(request: HubRequest, options?: ChannelRequestOptions): Promise<T> {
    // A lost connection rejects with ClosedError whose message and cause say why.
    return this.#root.request<T>(request, options);
  }

  async register<Request = unknown, Reply = unknown>(
    name: string,
    handler: Handler<Request, Reply>,
    options: RegisterOptions = {},
  ): Promise<Registration> {
    validateName(name);
    const labels = validateLabels(options.labels);
    const [mine, theirs] = Channel.pair();
    mine.handle((request, context) => {
      const { data, service, caller, deadline } = request as HandlerRequest;
      return handler(data as Request, {
        service,
        caller,
        deadline,
        get signal() {
          return context.signal;
        },
        onCancel: (listener) => context.onCancel(listener),
      });
    });
    let info: ServiceInfo;
    try {
      info = await this.#request<ServiceInfo>({ op: "register", name, labels, handler: theirs });
    } catch (error) {
      mine.close();
      throw error;
    }
    const unregister = async (): Promise<void> => {
      if (mine.isClosed) return;
      await this.#request({ op: "unregister", id: info.id }).catch(() => undefined);
      mine.close();
    };
    return { info, unregister, [Symbol.asyncDispose]: unregister };
  }

  call<Reply = unknown>(name: string, data?: unknown, options: CallOptions = NO_OPTIONS): Promise<Reply> {
    if (options === NO_OPTIONS) return this.#request<Reply>({ op: "call", name, data });
    const { timeout, labels, instance, waitForService, signal, cancelWith } = options;
    // Only the options that are set travel: every call pays for what it encodes.
    const wire: CallWireOptions = {};
    if (timeout !== undefined) wire.timeout = timeout;
    if (labels !== undefined) wire.labels = labels;
    if (instance !== undefined) wire.instance = instance;
    if (waitForService !== undefined) wire.waitForService = waitForService;
    return this.#request<Reply>(
      { op: "call", name, data, options: wire },
      {
        signal,
        cancelWith,
        timeout: timeout !== undefined && timeout > 0 ? timeout + TIMEOUT_GRACE_MS : undefined,
      },
    );
  }

  lookup(name: string, options: { labels?: Labels } = {}): Promise<ServiceInfo[]> {
    return this.#request({ op: "lookup", name, labels: options.labels });
  }

  list(filter: ServiceFilter = {}): Promise<ServiceInfo[]> {
    return this.#request({ op: "list", filter });
  }

  watch(options: WatchOptions = {}): Watch {
    const { signal, existing, ...filter } = options;
    const [events, eventsForHub] = Channel.pair();
    const iterator = events[Symbol.asyncIterator]();
    this.#request({ op: "watch", filter, existing, events: eventsForHub }).catch((error: unknown) =>
      events.close(error),
    );
    const watch: Watch = {
      next: async (): Promise<IteratorResult<WatchEvent>> => {
        const result = await iterator.next();
        return result.done
          ? { done: true, value: undefined }
          : { done: false, value: result.value.data as WatchEvent };
      },
      return: () => {
        events.close();
        return Promise.resolve({ done: true, value: undefined });
      },
      close: () => events.close(),
      [Symbol.asyncIterator]: () => watch,
    };
    if (signal?.aborted) events.close();
    else signal?.addEventListener("abort", () => events.close(), { once: true });
    return watch;
  }

  close(): Promise<void> {
    this.#connection.close();
    return this.#connection.closed.then(() => undefined);
  }
}
