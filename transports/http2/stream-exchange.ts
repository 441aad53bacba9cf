import type { IncomingHttpHeaders, ServerHttp2Stream } from "node:http2";

/**
 * A plain request that came over HTTP/2, read from its stream itself (Node's core HTTP/2 API)
 * rather than through the compatibility layer's `Http2ServerRequest`: that one is a `Readable`
 * of its own that the stream's data is pushed through, made with half a dozen listeners on the
 * stream, for every request (issue 19: with its `Http2ServerResponse`, ~1.5 KB and a few µs per
 * call). It has what beamhub's routes read of a request: method, target, headers, the body's
 * events (the stream's own) and the stream.
 */
export class StreamRequest implements AsyncIterable<Buffer | string> {
  /** `:method`. */
  readonly method: string | undefined;
  /** `:path`: the request's target. */
  readonly url: string | undefined;

  constructor(
    readonly stream: ServerHttp2Stream,
    /** The request's headers, pseudo-headers included (as the compatibility request has them). */
    readonly headers: IncomingHttpHeaders,
  ) {
    this.method = headers[":method"];
    this.url = headers[":path"];
  }

  /** The body's `data`, `end`, `error` and `close` events are the stream's. */
  on(event: string, listener: Listener): this {
    this.stream.on(event, listener);
    return this;
  }

  once(event: string, listener: Listener): this {
    this.stream.once(event, listener);
    return this;
  }

  off(event: string, listener: Listener): this {
    this.stream.off(event, listener);
    return this;
  }

  /** Reads (and drops) what is left of the body. */
  resume(): this {
    this.stream.resume();
    return this;
  }

  /**
   * Stops reading the body for the route (a body over its limit): the rest is dropped as it
   * comes, and the stream lives on for the response, as a destroyed compatibility request has it.
   */
  destroy(): this {
    return this.resume();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer | string> {
    return this.stream[Symbol.asyncIterator]();
  }
}

/**
 * The response to a {@link StreamRequest}, answered on its stream (`stream.respond`, then the
 * body): what beamhub's routes use of a response (`writeHead`, `end`, `setHeader`, `close` and
 * `finish`), without the compatibility response's header map, which validates and copies every
 * header once more before doing the same.
 *
 * Like the compatibility response it ends the stream with (empty) trailers after the body: a
 * stream ended with its last write closes before that write's callback runs, and Node then
 * makes an `ERR_STREAM_DESTROYED` error with its stack captured that nobody sees (issue 19: ~4 %
 * of the serving process's samples). `finish` and `close` are both the stream's `close`, as
 * they are for the compatibility response.
 */
export class StreamResponse {
  /** The status sent, or to be sent (200 until `writeHead`). */
  statusCode = 200;
  /** Headers set before the head (an allowed origin's CORS headers). */
  #headers: Record<string, string | number | readonly string[]> | undefined;

  constructor(
    readonly stream: ServerHttp2Stream,
    /** The request this answers (the endpoint drains a refused request's body through it). */
    readonly req: StreamRequest,
  ) {}

  get headersSent(): boolean {
    return this.stream.headersSent;
  }

  get writableFinished(): boolean {
    return this.stream.writableFinished;
  }

  /** Sets a header of the head to come (names lower-cased, as HTTP/2 has them). */
  setHeader(name: string, value: string | number | readonly string[]): this {
    (this.#headers ??= {})[name.toLowerCase()] = value;
    return this;
  }

  /**
   * Sends the head now: `status`, the headers set before, then `headers`. Nothing on a stream
   * that is closed (the client reset it) or already answered.
   */
  writeHead(status: number, headers: Readonly<Record<string, string | number>> = {}): this {
    const stream = this.stream;
    if (stream.destroyed || stream.closed || stream.headersSent) return this;
    this.statusCode = status;
    stream.respond({ ...this.#headers, ...headers, ":status": status }, WITH_TRAILERS);
    stream.once("wantTrailers", sendNoTrailers);
    return this;
  }

  /**
   * Sends the head if it is not out yet, then `body`, and ends the response; what is left of
   * the request's body is read and dropped (a refused request's), so that the client can end
   * its side and the stream close (the compatibility layer reads every body).
   */
  end(body?: string | Uint8Array): this {
    const stream = this.stream;
    if (stream.destroyed || stream.closed || stream.writableEnded) return this;
    if (!stream.headersSent) this.writeHead(this.statusCode);
    if (body === undefined) stream.end();
    else stream.end(body);
    stream.resume();
    return this;
  }

  /** `finish` and `close`: the stream closed (answered, or reset by the client). */
  once(_event: "close" | "finish", listener: () => void): this {
    this.stream.once("close", listener);
    return this;
  }
}

type Listener = Parameters<ServerHttp2Stream["on"]>[1];

/** The head is followed by the body, then by trailers (none): see {@link StreamResponse}. */
const WITH_TRAILERS = { waitForTrailers: true } as const;

function sendNoTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers({});
}
