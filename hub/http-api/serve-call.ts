import { ROOT_CONTEXT } from "@opentelemetry/api";
import { jsonCodec } from "../../codecs/index.js";
import { Cancellation } from "../../model/cancellation.js";
import { ClosedError, InvalidNameError, ServiceError } from "../../model/errors.js";
import {
  sendError,
  sendJson,
  type ApiRequest,
  type ApiResponse,
} from "../../transports/http2/http-replies.js";
import { CALL_PATH, TIMEOUT_HEADER } from "../../transports/http2/paths.js";
import type { RequestTarget } from "../../transports/http2/request-target.js";
import type { Hub } from "../hub.js";
import type { CallOptions, Identity } from "../types.js";
import { callTimeoutOf } from "./call-timeout.js";
import { checkJsonContentType, readJsonBody } from "./json-body.js";
import { extractTraceContext } from "../tracing/trace-context.js";
import { sendReply } from "./send-reply.js";

/**
 * Why the session of a plain HTTP request ends: its one call was answered. Made once: a session
 * closed without a reason makes a `ClosedError` of its own, and capturing its stack was a quarter
 * of the mapping's own work per request (issue 19). The session has no call left to fail by then;
 * observers' `sessionClosed` sees this error.
 */
const REQUEST_DONE = new ClosedError("the session of an answered plain HTTP request");

/**
 * `POST /beamhub/v1/call/<name>` with a JSON body (FORMATS.md's JSON form: `{"$bytes": ...}`
 * for binary): calls the service in a session of its own with the caller's identity and
 * answers its reply as JSON (200), or the error as `{name, message, code, details?}` with a
 * status from its code (400 invalid, 404 no such service, 500 the handler threw, 502 the
 * instance went away, 504 timed out). `beamhub-timeout: <ms>` (or `?timeout=`) bounds the call:
 * a positive integer (else 400), clamped to `MAX_CALL_TIMEOUT`. W3C `traceparent`/`tracestate`
 * headers continue the client's trace, as the fields of a `call` request do.
 */
export function serveCall(
  hub: Hub,
  url: RequestTarget,
  request: ApiRequest,
  response: ApiResponse,
  identity: Identity | undefined,
  maxBodySize: number,
  remoteAddress?: string,
): Promise<void> | void {
  if (request.method !== "POST") {
    return sendJson(response, 405, {
      name: "MethodNotAllowed",
      message: "call a service with POST and a JSON body",
      code: "EMETHOD",
    });
  }
  checkJsonContentType(request.headers["content-type"]);
  let name: string;
  try {
    name = decodeURIComponent(url.pathname.slice(CALL_PATH.length));
  } catch {
    return sendError(
      response,
      new InvalidNameError("the service name in the path is not valid percent-encoding"),
    );
  }
  // The body is the one thing waited for; the rest runs on in its promise's one turn, and a
  // synchronous handler's reply is sent in that same turn (issue 19: four async hops before).
  return readJsonBody(request, maxBodySize).then((data) => {
    const header = request.headers[TIMEOUT_HEADER];
    // The query is parsed only when there is one (most calls have none).
    const timeout = callTimeoutOf(
      header,
      typeof header === "string" || url.search === "" ? null : url.searchParams.get("timeout"),
    );
    return callService(hub, name, data, timeout, request, response, identity, remoteAddress);
  });
}

/** Calls `name` with `data` in a session of the request's own, and answers its reply. */
function callService(
  hub: Hub,
  name: string,
  data: unknown,
  timeout: number | undefined,
  request: ApiRequest,
  response: ApiResponse,
  identity: Identity | undefined,
  remoteAddress: string | undefined,
): Promise<void> | void {
  // No options object unless there is a timeout: the session checks one it is given.
  const options: CallOptions | undefined = timeout === undefined ? undefined : { timeout };
  // The call's cancellation without an AbortController: a handler that reads its `signal` gets
  // one made then; the rest (most) pay for none (issue 19: one was ~13% of the mapping's work).
  const cancellation = new Cancellation();
  // Cancelled on a close before the call settled. (`writableFinished` cannot tell a client that
  // went away: an HTTP/2 response whose stream the client reset reports true, so such calls ran
  // on to their timeout.) The flag, not the cancellation, decides: every response closes, and an
  // `Error` made on each close (its stack captured) was ~10 % of the mapping's own work.
  let settled = false;
  response.once("close", () => {
    if (!settled) cancellation.cancel(new Error("the HTTP client went away"));
  });
  const session = hub.session({
    identity,
    maxCallTimeout: hub.maxPeerCallTimeout,
    peer: { transport: "http", remoteAddress },
  });
  const done = (): void => {
    settled = true;
    void session.close(REQUEST_DONE);
  };
  let reply: unknown;
  try {
    const { traceparent, tracestate } = request.headers;
    const parent =
      traceparent === undefined
        ? ROOT_CONTEXT
        : (extractTraceContext({ traceparent, tracestate }) ?? ROOT_CONTEXT);
    reply = session.callRaw(name, data, options, cancellation, parent);
  } catch (error) {
    done();
    return sendError(response, error);
  }
  // A synchronous handler's reply (most): answered now, without a promise.
  if (!(reply instanceof Promise)) {
    done();
    return answer(response, name, reply);
  }
  return reply.then(
    (value: unknown) => {
      done();
      answer(response, name, value);
    },
    (error: unknown) => {
      done();
      sendError(response, error);
    },
  );
}

/** Sends `reply` as JSON with 200, or the error of a reply JSON cannot carry. */
function answer(response: ApiResponse, name: string, reply: unknown): void {
  let encoded: Uint8Array;
  try {
    encoded = jsonCodec.encode(reply === undefined ? null : reply);
  } catch (error) {
    return sendError(
      response,
      new ServiceError(name, {
        name: "InvalidMessageError",
        message: `the reply cannot be sent as JSON: ${(error as Error).message}`,
        code: "EINVALID_MESSAGE",
      }),
    );
  }
  sendReply(response, encoded);
}
