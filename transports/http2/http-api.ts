import type { IncomingHttpHeaders } from "node:http";
import { DecodeError } from "../../codecs/errors.js";
import { jsonCodec } from "../../codecs/index.js";
import type { RefHooks } from "../../codecs/reference.js";
import type { Hub } from "../../hub/hub.js";
import type { CallOptions, Identity } from "../../hub/types.js";
import { InvalidArgumentError, InvalidNameError, ServiceError } from "../../model/errors.js";
import { describeError } from "../../wire/error-info.js";
import { CALL_PATH, TIMEOUT_HEADER } from "./paths.js";
import { Refusal } from "./refusal.js";

/**
 * The plain mapping carries data only: a plain HTTP client has no session in which a channel,
 * stream or descriptor could live, so the reference forms of the JSON codec (`{"$channel": 5}`,
 * ...) are refused rather than passed on as references nobody allocated. A client that means
 * the object itself escapes it: `{"$": {"$channel": 5}}`.
 */
const PLAIN_DATA_ONLY: RefHooks = {
  toRef: () => {
    throw new DecodeError("unexpected attachment while decoding");
  },
  fromRef: (ref) => {
    throw new DecodeError(
      `{"$${ref.kind}": ${ref.id}} is a reference, and the plain HTTP mapping carries data only; to send such an object as data, escape it as {"$": {...}}`,
    );
  },
};

/** The parts of an HTTP/1.1 or HTTP/2 compatibility request the plain API uses. */
export interface ApiRequest extends AsyncIterable<Buffer | string> {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** The parts of an HTTP/1.1 or HTTP/2 compatibility response the plain API uses. */
export interface ApiResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: string | Uint8Array): unknown;
  once(event: "close", listener: () => void): unknown;
  readonly writableFinished: boolean;
}

/** The HTTP status of a failed call, from the error's code. */
export function statusOf(error: unknown): number {
  if (error instanceof Refusal) return error.status;
  const code = (error as { code?: unknown })?.code;
  switch (code) {
    case "EINVALID_NAME":
    case "EINVALID_ARGUMENT":
    case "EINVALID_MESSAGE":
    case "EINVALID_JSON":
      return 400;
    case "EUNAUTHENTICATED":
      return 401;
    case "EFORBIDDEN":
      return 403;
    case "ESERVICE_NOT_FOUND":
      return 404;
    case "ETIMEOUT":
      return 504;
    case "ESERVICE_GONE":
      return 502;
    case "ECLOSED":
    case "EABORTED":
      return 503;
    default:
      return 500;
  }
}

/** Sends `body` as JSON with `status`. */
export function sendJson(response: ApiResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  const bytes = typeof body === "string" ? body : JSON.stringify(body);
  response.writeHead(status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(bytes),
    "cache-control": "no-store",
  });
  response.end(bytes);
}

/** Sends `error` as `{name, message, code, ...}` with the status its code maps to. */
export function sendError(response: ApiResponse, error: unknown): void {
  const { hub: _hub, ...info } =
    error instanceof Refusal ? { ...error.body, hub: true } : describeError(error);
  sendJson(response, statusOf(error), info);
}

/**
 * `POST /beamhub/v1/call/<name>` with a JSON body (FORMATS.md's JSON form: `{"$bytes": ...}`
 * for binary): calls the service in a session of its own with the caller's identity and
 * answers its reply as JSON (200), or the error as `{name, message, code, details?}` with a
 * status from its code (400 invalid, 404 no such service, 500 the handler threw, 502 the
 * instance went away, 504 timed out). `beamhub-timeout: <ms>` (or `?timeout=`) bounds the call:
 * a positive integer (else 400), clamped to `MAX_CALL_TIMEOUT`.
 */
export async function serveCall(
  hub: Hub,
  path: string,
  query: URLSearchParams,
  request: ApiRequest,
  response: ApiResponse,
  identity: Identity | undefined,
  maxBodySize: number,
): Promise<void> {
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
    name = decodeURIComponent(path.slice(CALL_PATH.length));
  } catch {
    return sendError(
      response,
      new InvalidNameError("the service name in the path is not valid percent-encoding"),
    );
  }
  const body = await readBody(request, maxBodySize);
  let data: unknown = null;
  if (body.byteLength > 0) {
    try {
      data = jsonCodec.decode(body, PLAIN_DATA_ONLY);
    } catch (error) {
      return sendError(
        response,
        new Refusal(
          400,
          "EINVALID_JSON",
          `the request body is not valid JSON: ${(error as Error).message}`,
          "InvalidJsonError",
        ),
      );
    }
  }
  const options: CallOptions = {};
  const timeout = timeoutOf(request.headers[TIMEOUT_HEADER], query.get("timeout"));
  if (timeout !== undefined) options.timeout = timeout;
  const controller = new AbortController();
  response.once("close", () => {
    if (!response.writableFinished) controller.abort(new Error("the HTTP client went away"));
  });
  options.signal = controller.signal;
  const session = hub.session({ identity, maxCallTimeout: hub.maxPeerCallTimeout });
  let reply: unknown;
  try {
    reply = await session.call(name, data, options);
  } catch (error) {
    return sendError(response, error);
  } finally {
    void session.close();
  }
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
  if (response.headersSent) return;
  response.writeHead(200, {
    "content-type": "application/json",
    "content-length": encoded.byteLength,
    "cache-control": "no-store",
  });
  response.end(encoded);
}

/** `GET /beamhub/v1/services[?prefix=...&name=...]`: the registered instances as JSON. */
export async function serveServices(
  hub: Hub,
  query: URLSearchParams,
  request: ApiRequest,
  response: ApiResponse,
  identity: Identity | undefined,
): Promise<void> {
  if (request.method !== "GET") {
    return sendJson(response, 405, { name: "MethodNotAllowed", message: "use GET", code: "EMETHOD" });
  }
  const session = hub.session({ identity });
  try {
    const filter: { prefix?: string; name?: string } = {};
    const prefix = query.get("prefix");
    const name = query.get("name");
    if (prefix !== null) filter.prefix = prefix;
    if (name !== null) filter.name = name;
    sendJson(response, 200, await session.list(filter));
  } catch (error) {
    sendError(response, error);
  } finally {
    void session.close();
  }
}

/**
 * A call's body must be declared JSON (`application/json`, optionally `; charset=utf-8`).
 * Besides naming the format, this keeps web pages out: a browser sends `text/plain`, form
 * types or nothing without asking the server first (a "simple" cross-site request), while
 * `application/json` from another site needs a CORS preflight the hub answers only for
 * allowed origins.
 */
function checkJsonContentType(header: string | undefined): void {
  const [type = "", ...parameters] = (header ?? "").split(";").map((part) => part.trim().toLowerCase());
  const charsetOk = parameters.every(
    (parameter) => /^charset="?utf-8"?$/.test(parameter) || parameter === "",
  );
  if (type === "application/json" && charsetOk) return;
  throw new Refusal(
    415,
    "ECONTENT_TYPE",
    `a call's body is JSON: send content-type: application/json (got ${
      header === undefined ? "none" : JSON.stringify(header.slice(0, 100))
    })`,
    "UnsupportedMediaTypeError",
  );
}

/**
 * The largest call timeout the plain mapping passes on (ms): 2^31-1, about 24.8 days, the
 * longest delay a Node.js timer can hold. A larger `beamhub-timeout` is clamped to it (a timer
 * given more fires after 1 ms, again and again, with a `TimeoutOverflowWarning` each time).
 */
export const MAX_CALL_TIMEOUT = 2_147_483_647;

function timeoutOf(header: string | string[] | undefined, parameter: string | null): number | undefined {
  const text = typeof header === "string" ? header : (parameter ?? undefined);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isInteger(value) || value <= 0) {
    throw new InvalidArgumentError(
      `${TIMEOUT_HEADER} must be a positive integer number of milliseconds, got ${JSON.stringify(text.slice(0, 40))}`,
    );
  }
  return Math.min(value, MAX_CALL_TIMEOUT);
}

async function readBody(request: ApiRequest, limit: number): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += bytes.byteLength;
    if (size > limit)
      throw new Refusal(413, "ETOO_LARGE", `the request body exceeds ${limit} bytes`, "PayloadTooLargeError");
    chunks.push(bytes);
  }
  return Buffer.concat(chunks, size);
}
