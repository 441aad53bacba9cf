import type { IncomingHttpHeaders } from "node:http";
import { describeError } from "../../wire/error-info.js";
import { Refusal } from "./refusal.js";
import { isReportedRefusal, noteRefusal } from "./refusal-log.js";

/** The parts of an HTTP/1.1 or HTTP/2 compatibility request a plain request handler uses. */
export interface ApiRequest extends AsyncIterable<Buffer | string> {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** The parts of an HTTP/1.1 or HTTP/2 compatibility response a plain request handler uses. */
export interface ApiResponse {
  readonly headersSent: boolean;
  writeHead(status: number, headers: Record<string, string | number>): unknown;
  end(body?: string | Uint8Array): unknown;
  once(event: "close", listener: () => void): unknown;
  readonly writableFinished: boolean;
}

/**
 * The HTTP status of a refusal or a failed request, from the error's code (PROTOCOL.md's
 * codes: what every beamhub HTTP answer maps the same way).
 */
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
    case "EPUBLISH_TIMEOUT":
      return 504;
    case "ESERVICE_GONE":
      return 502;
    case "ECLOSED":
    case "EABORTED":
    case "ELIMIT":
      // ELIMIT: a limit of the hub (pub/sub's channels, ...): try again later, not a server fault.
      return 503;
    default:
      return 500;
  }
}

/** Sends `body` as JSON with `status` (nothing if a response was already sent). */
export function sendJson(response: ApiResponse, status: number, body: unknown): void {
  if (response.headersSent) return;
  if (isReportedRefusal(status)) noteRefusalBody(response, body);
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

/** A 401/403 body's code and message, noted for the refusal report (refusal-log.ts). */
function noteRefusalBody(response: object, body: unknown): void {
  if (typeof body !== "object" || body === null) return;
  const { code, message } = body as { code?: unknown; message?: unknown };
  if (typeof message !== "string") return;
  noteRefusal(response, { code: typeof code === "string" ? code : undefined, reason: message });
}
