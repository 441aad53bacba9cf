import { InvalidArgumentError } from "../../model/errors.js";
import type { Lagged, PubSubMessage } from "../../pubsub/types.js";
import {
  sendError,
  sendJson,
  type ApiRequest,
  type ApiResponse,
} from "../../transports/http2/http-replies.js";
import type { HttpsPeer } from "../../transports/http2/acceptor.js";
import { Refusal } from "../../transports/http2/refusal.js";
import type { Hub } from "../hub.js";
import { checkJsonContentType, readJsonBody } from "./json-body.js";
import { eventOf, KEEP_ALIVE } from "./pubsub-events.js";
import { channelOfPath, parseEventStreamRequest } from "./pubsub-query.js";

/** Limits of pub/sub over HTTP (`HttpApiOptions.pubsub`). */
export interface PubSubHttpOptions {
  /** Event streams open at once; more get 503 `ELIMIT` (default 256). */
  maxStreams?: number;
  /**
   * Messages held for one stream that its client has not taken yet (default 256, or the hub's
   * pub/sub `maxRing` when that is lower; at most `maxRing`, 65 536 by default); older ones are dropped.
   */
  ring?: number;
  /**
   * The same bound in estimated bytes (default 1 MiB, or the hub's `maxRingBytes` when lower; at
   * most `maxRingBytes`, 64 MiB by default; one message always fits).
   */
  ringBytes?: number;
  /** Interval of the keep-alive comment, in ms (default 15 000). */
  keepAliveMs?: number;
}

/** The defaults of {@link PubSubHttpOptions}. */
export const PUBSUB_HTTP_DEFAULTS = Object.freeze({
  maxStreams: 256,
  ring: 256,
  ringBytes: 1024 * 1024,
  keepAliveMs: 15_000,
});

/** How long `EventSource` waits before reconnecting after the stream ends (ms). */
const RETRY_MS = 2000;

/** The parts of a response an event stream needs beyond a plain answer. */
interface StreamingResponse extends ApiResponse {
  write(chunk: string): boolean;
  once(event: "close" | "drain", listener: () => void): unknown;
  off(event: "close" | "drain", listener: () => void): unknown;
}

/**
 * Pub/sub on the HTTPS listener's plain mapping: `GET` follows a channel as server-sent events,
 * `POST` publishes a JSON body. Each request runs in a hub session of its own with the
 * request's identity, so the access rules `subscribe`/`publish` apply as to any session.
 */
export class PubSubHttp {
  readonly #hub: Hub;
  readonly #limits: Required<PubSubHttpOptions>;
  readonly #maxBodySize: number;
  /** How to end each open event stream (when the endpoint closes). */
  readonly #open = new Set<() => void>();

  /** @throws InvalidArgumentError for a limit that is not a positive integer. */
  constructor(hub: Hub, options: PubSubHttpOptions, maxBodySize: number) {
    this.#hub = hub;
    this.#maxBodySize = maxBodySize;
    // The hub's pub/sub caps: a default above them is lowered to them (a hub made with a small
    // `maxRing` still serves event streams); a value asked for above them is an error here, not
    // at each request, where every subscribe would fail.
    const { maxRing, maxRingBytes } = hub.pubsub.ringLimits;
    const limits = {
      ...PUBSUB_HTTP_DEFAULTS,
      ring: Math.min(PUBSUB_HTTP_DEFAULTS.ring, maxRing),
      ringBytes: Math.min(PUBSUB_HTTP_DEFAULTS.ringBytes, maxRingBytes),
      ...definedOnly(options),
    };
    for (const [name, value] of Object.entries(limits)) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new InvalidArgumentError(
          `pubsub.${name} of the HTTP mapping must be an integer >= 1, got ${value}`,
        );
      }
    }
    if (limits.ring > maxRing || limits.ringBytes > maxRingBytes) {
      throw new InvalidArgumentError(
        `pubsub.ring and pubsub.ringBytes of the HTTP mapping may be at most ${maxRing} and ${maxRingBytes} (the hub's pub/sub maxRing and maxRingBytes), got ${limits.ring} and ${limits.ringBytes}`,
      );
    }
    this.#limits = limits;
  }

  /** Event streams open now. */
  get streams(): number {
    return this.#open.size;
  }

  /** Ends every open event stream cleanly (the listener is closing; `EventSource` reconnects later). */
  close(): void {
    for (const end of [...this.#open]) end();
  }

  /** Answers one request on `/beamhub/v1/pubsub/<channel>`. */
  serve(request: ApiRequest, url: URL, response: ApiResponse, peer: HttpsPeer): Promise<void> {
    if (request.method === "POST") return this.#publish(request, url.pathname, response, peer);
    if (request.method === "GET") return this.#follow(request, url, response as StreamingResponse, peer);
    sendJson(response, 405, {
      name: "MethodNotAllowed",
      message: "follow a channel with GET (Accept: text/event-stream), publish with POST and a JSON body",
      code: "EMETHOD",
    });
    return Promise.resolve();
  }

  async #publish(request: ApiRequest, path: string, response: ApiResponse, peer: HttpsPeer): Promise<void> {
    checkJsonContentType(request.headers["content-type"]);
    const channel = channelOfPath(path);
    const data = await readJsonBody(request, this.#maxBodySize);
    const session = this.#hub.session({
      identity: peer.identity,
      peer: { transport: "http", remoteAddress: peer.remoteAddress },
    });
    try {
      const { seq, time } = await session.publish(channel, data);
      sendJson(response, 200, { seq, time });
    } finally {
      void session.close();
    }
  }

  async #follow(request: ApiRequest, url: URL, response: StreamingResponse, peer: HttpsPeer): Promise<void> {
    checkAccept(request.headers.accept);
    const asked = parseEventStreamRequest(url.pathname, url.searchParams, request.headers);
    if (this.#open.size >= this.#limits.maxStreams) {
      return sendJson(response, 503, {
        name: "LimitExceededError",
        message: `the hub serves at most ${this.#limits.maxStreams} pub/sub event streams at once`,
        code: "ELIMIT",
      });
    }
    const session = this.#hub.session({
      identity: peer.identity,
      peer: { transport: "http", remoteAddress: peer.remoteAddress },
    });
    let subscription;
    try {
      subscription = session.subscribe(asked.channel, {
        history: asked.history,
        lag: "drop-oldest",
        ring: this.#limits.ring,
        ringBytes: this.#limits.ringBytes,
        ...(asked.after === undefined ? {} : { after: asked.after }),
      });
    } catch (error) {
      void session.close();
      return sendError(response, error); // 403 EFORBIDDEN (reported as refused), 400, ...
    }
    const items = subscription[Symbol.asyncIterator]();
    let closed = false;
    let wake: (() => void) | undefined;
    let draining = false;
    const onClose = (): void => {
      // The client went away: its subscription is released now, not at the next publication.
      closed = true;
      subscription.close();
      wake?.();
    };
    // Ending from this side: the subscription's reads end, and so does the response.
    const end = (): void => {
      subscription.close();
      wake?.();
    };
    this.#open.add(end);
    response.once("close", onClose);
    if (isGone(response)) onClose(); // it left while the request was authenticated
    const keepAlive = setInterval(() => {
      if (!draining && !closed) response.write(KEEP_ALIVE);
    }, this.#limits.keepAliveMs);
    try {
      response.writeHead(200, {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        "x-content-type-options": "nosniff",
        // nginx and friends buffer responses unless told not to; an event stream must not wait.
        "x-accel-buffering": "no",
      });
      response.write(`retry: ${RETRY_MS}\n\n`);
      for (;;) {
        const next = await items.next();
        if (next.done === true || closed) break;
        const item: PubSubMessage | Lagged = next.value;
        // An event stream carries text: a broadcast's copy is released unread at once, so that a
        // `wait` publisher is not held back by a reader that will never read it.
        if ("stream" in item && item.stream !== undefined)
          item.stream.reset("an event stream does not carry byte-stream broadcasts");
        if (response.write(eventOf(item))) continue;
        // The client reads slower than the channel: stop pulling (the subscription's ring drops
        // the oldest meanwhile and tells how many with a `lagged` event) until it drains.
        draining = true;
        await new Promise<void>((resolve) => {
          wake = resolve;
          response.once("drain", resolve);
        });
        response.off("drain", wake!);
        wake = undefined;
        draining = false;
        if (closed) break;
      }
    } finally {
      clearInterval(keepAlive);
      response.off("close", onClose);
      subscription.close();
      void session.close();
      this.#open.delete(end);
      // The subscription ended without the client leaving: the hub is closing (EventSource retries).
      if (!closed) response.end();
    }
  }
}

/** The options that are set: `{ring: undefined}` keeps the default, as leaving it out does. */
function definedOnly(options: PubSubHttpOptions): PubSubHttpOptions {
  return Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined));
}

/** Whether the client already went away (an HTTP/1.1 or an HTTP/2 compatibility response). */
function isGone(response: ApiResponse): boolean {
  const parts = response as {
    destroyed?: boolean;
    stream?: { closed?: boolean; destroyed?: boolean };
    socket?: { destroyed?: boolean } | null;
  };
  return (
    parts.destroyed === true ||
    parts.stream?.closed === true ||
    parts.stream?.destroyed === true ||
    parts.socket?.destroyed === true
  );
}

/** An event stream is text/event-stream: a client that accepts only something else gets 406. */
function checkAccept(header: string | undefined): void {
  if (header === undefined) return;
  const types = header.split(",").map((part) => part.split(";")[0]!.trim().toLowerCase());
  if (types.some((type) => type === "text/event-stream" || type === "text/*" || type === "*/*")) return;
  throw new Refusal(
    406,
    "ENOT_ACCEPTABLE",
    `a pub/sub channel is followed as text/event-stream; the request accepts only ${JSON.stringify(header.slice(0, 100))} (publish with POST)`,
    "NotAcceptableError",
  );
}
