import { STATUS_CODES } from "node:http";
import type { Socket } from "node:net";
import { TaskError } from "../errors.js";

/** What the REST face answers for an error: Samply's status, headers and body. */
export interface ErrorAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * The answer for `error`: a task error's own status with its message as plain text (401 adds
 * `WWW-Authenticate: ApiKey`; 424 is the JSON array of unreachable hubs), anything else 500.
 */
export function errorAnswer(error: unknown): ErrorAnswer {
  if (!(error instanceof TaskError)) return text(500, "Internal server error");
  if (error.status === 401) return text(401, error.message, { "www-authenticate": "ApiKey" });
  if (error.status === 424 && "hubs" in error) {
    return {
      status: 424,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(error.hubs),
    };
  }
  return text(error.status, error.message);
}

/**
 * Writes `answer` as a whole HTTP/1.1 response straight to a connection node:http no longer
 * serves (an upgrade that failed), then closes it.
 */
export function writeRawAnswer(socket: Socket, answer: ErrorAnswer): void {
  if (socket.destroyed) return;
  const body = Buffer.from(answer.body);
  const head = [
    `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? ""}`,
    ...Object.entries({ ...answer.headers, "content-length": String(body.length), connection: "close" }).map(
      ([name, value]) => `${name}: ${value}`,
    ),
  ].join("\r\n");
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n\r\n`), body]), () => socket.destroy());
}

function text(status: number, body: string, headers: Record<string, string> = {}): ErrorAnswer {
  return { status, headers: { ...headers, "content-type": "text/plain; charset=utf-8" }, body };
}
