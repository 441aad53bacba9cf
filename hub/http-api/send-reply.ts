import type { Http2ServerResponse } from "node:http2";
import type { ApiResponse } from "../../transports/http2/http-replies.js";

/**
 * Answers a call's JSON reply with 200. Over HTTP/2 it responds on the stream itself
 * (`stream.respond` and `stream.end`), not through the compatibility response: `writeHead`
 * there validates and copies every header into a header map of its own before doing the same
 * (a sixth of the mapping's own work per request in issue 19's profile). The compatibility
 * response still sees the stream close, so its `finish` and `close` (what the endpoint and the
 * call's cancellation listen to) come as before. HTTP/1.1 goes through `writeHead`.
 *
 * The stream ends as the compatibility response ends it: with (empty) trailers, after the body
 * was written. A stream ended with its last write closes before that write's callback runs, and
 * Node then makes an `ERR_STREAM_DESTROYED` error (its stack captured) nobody sees, on every
 * reply: ~4 % of the serving process's samples under h2load (issue 19). The compatibility
 * response's own `wantTrailers` listener sends them: an empty DATA frame with END_STREAM, as for
 * the Node echo's replies.
 */
export function sendReply(response: ApiResponse, body: Uint8Array): void {
  if (response.headersSent) return;
  const compat = response as Partial<Pick<Http2ServerResponse, "stream" | "getHeaders">>;
  const stream = compat.stream;
  if (stream !== undefined && compat.getHeaders !== undefined) {
    // A stream the client reset cannot be answered: its response's `close` already cancelled the call.
    if (stream.destroyed || stream.closed) return;
    // Headers the endpoint set before (an allowed origin's CORS headers) go out as well.
    stream.respond(
      {
        ...compat.getHeaders(),
        ":status": 200,
        "content-type": "application/json",
        "content-length": body.byteLength,
        "cache-control": "no-store",
      },
      WITH_TRAILERS,
    );
    stream.end(body);
    return;
  }
  response.writeHead(200, {
    "content-type": "application/json",
    "content-length": body.byteLength,
    "cache-control": "no-store",
  });
  response.end(body);
}

/** The compatibility response sends the trailers (none) on `wantTrailers`, as for its own replies. */
const WITH_TRAILERS = { waitForTrailers: true } as const;
