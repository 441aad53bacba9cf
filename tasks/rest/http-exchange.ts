import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import { parseDuration } from "../duration.js";
import { InvalidTaskError, TaskLimitError } from "../errors.js";
import type { WaitCondition } from "../long-poll.js";

/** A request as both node:http and node:http2's compatibility API give it. */
export type HttpRequest = IncomingMessage | Http2ServerRequest;
/** A response of either API. */
export type HttpResponse = ServerResponse | Http2ServerResponse;

export function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/**
 * Reads a JSON body of at most `limit` bytes: larger is 413 (said before reading on, from
 * `content-length` when given), malformed is 400 "Invalid body" (Samply's words). An empty body
 * is `undefined`.
 */
export async function readJson(request: HttpRequest, limit: number): Promise<unknown> {
  const declared = Number(header(request.headers, "content-length") ?? NaN);
  if (declared > limit) throw new TaskLimitError(`the body is larger than ${limit} bytes`, 413);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new TaskLimitError(`the body is larger than ${limit} bytes`, 413);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch (error) {
    throw new InvalidTaskError("Invalid body", { cause: error });
  }
}

/**
 * The long-poll parameters of a query: `wait_count` (0–65535, as Samply's u16) and `wait_time`
 * (a duration; a bare number is milliseconds, as in Samply's code).
 */
export function waitCondition(query: URLSearchParams): WaitCondition {
  const wait: WaitCondition = {};
  const count = query.get("wait_count");
  if (count !== null) {
    if (!/^\d{1,5}$/.test(count) || Number(count) > 65_535) {
      throw new InvalidTaskError(`wait_count must be a number from 0 to 65535, got "${count}"`);
    }
    wait.count = Number(count);
  }
  const time = query.get("wait_time");
  if (time !== null) {
    try {
      wait.timeMs = parseDuration(time, "ms", "wait_time");
    } catch (error) {
      throw new InvalidTaskError(
        `For long-polling, please define &wait_time=<duration with unit> (e.g. 2s, 500ms); got "${time}"`,
        { cause: error },
      );
    }
  }
  return wait;
}

/** Sends `body` as JSON with `status`. */
export function sendJson(response: HttpResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/** Sends a plain-text answer (Samply's error bodies are plain text or empty). */
export function sendText(
  response: HttpResponse,
  status: number,
  text: string,
  headers: Record<string, string> = {},
): void {
  response.writeHead(status, {
    ...headers,
    "content-type": "text/plain; charset=utf-8",
    "content-length": Buffer.byteLength(text),
  });
  response.end(text);
}

/**
 * An AbortSignal that fires when the client goes away before the answer is complete. (The
 * response's `close`, not the request's: on node:http that one fires once the body is read.)
 */
export function clientGone(response: HttpResponse): AbortSignal {
  const controller = new AbortController();
  response.once("close", () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** A path segment, percent-decoded; a malformed escape is a 400 (`InvalidTaskError`), not a 500. */
export function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    throw new InvalidTaskError(`malformed path segment "${segment}"`, { cause: error });
  }
}
