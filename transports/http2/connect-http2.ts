import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream } from "node:http2";
import { connect as tlsConnect, type TLSSocket } from "node:tls";
import type { ByteTransport } from "../../wire/connection.js";
import { type HttpsDialOptions, tlsOptionsOf } from "./client-options.js";
import { withDeadline } from "./deadline.js";
import { ConnectError } from "./errors.js";
import { FirstByteDeadline } from "./first-byte.js";
import { http2StreamTransport } from "./h2-transport.js";
import { SESSION_CONTENT_TYPE, SESSION_PATH } from "./paths.js";
import { proxiedSocket } from "./forward-proxy.js";
import { refusalError } from "./refusal-error.js";
import { connectFailure } from "./tls-errors.js";
import { HTTP2_TUNING, http2Settings, tuneSession } from "./tuning.js";

/** A byte connection to a hub and how to let go of what carries it. */
export interface OpenedTransport {
  transport: ByteTransport;
  kind: "http2" | "websocket";
  /** Releases the carrier (HTTP/2 session, WebSocket) once the session is over. */
  dispose(): void;
  /** The bound on the session's first bytes, when the caller set one (the HELLO is still to come). */
  firstByte?: FirstByteDeadline;
}

const MAX_ERROR_BODY = 64 * 1024;

/**
 * Opens a session stream over HTTP/2: TLS with ALPN `h2`, one `POST /beamhub/v1/session`
 * whose request and response bodies then carry the session's frames. The HTTP/2 connection is
 * the session's own and closes with it. With `firstByteTimeout`, the response must come within
 * that many ms of the request (and the returned `firstByte` bounds the HELLO too), else a
 * `ConnectError`: the "auto" client's cue to fall back.
 */
export async function openHttp2(
  url: URL,
  options: HttpsDialOptions,
  timeout: number,
  firstByteTimeout?: number,
): Promise<OpenedTransport> {
  const origin = url.origin;
  let socket: TLSSocket | undefined;
  const tunnel = await proxiedSocket(url, options.proxy, timeout);
  const session = http2Connect(origin, {
    settings: http2Settings(),
    maxSessionMemory: HTTP2_TUNING.maxSessionMemory,
    createConnection: () => {
      socket = tlsConnect({
        ...tlsOptionsOf(url, options),
        ALPNProtocols: ["h2"],
        ...(tunnel && { socket: tunnel }),
      });
      socket.setNoDelay(true);
      return socket;
    },
  });
  // Errors after the session is up reach the stream (and so the session protocol).
  session.on("error", () => undefined);
  try {
    await withDeadline<void>(
      timeout,
      () => new ConnectError(`no HTTP/2 connection to ${origin} within ${timeout} ms`),
      (resolve, reject) => {
        session.once("connect", () => {
          if (socket?.alpnProtocol !== "h2") {
            reject(
              new ConnectError(
                `${origin} does not speak HTTP/2 (ALPN chose ${String(socket?.alpnProtocol)})`,
              ),
            );
          } else resolve();
        });
        session.once("error", reject);
        session.once("close", () => reject(new ConnectError(`${origin} closed the HTTP/2 connection`)));
      },
    );
    tuneSession(session);
    const stream = session.request(
      {
        ":method": "POST",
        ":path": `${basePath(url)}${SESSION_PATH}`,
        "content-type": SESSION_CONTENT_TYPE,
        ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }),
      },
      { endStream: false },
    );
    stream.on("error", () => undefined);
    const firstByte =
      firstByteTimeout === undefined ? undefined : new FirstByteDeadline(firstByteTimeout, origin);
    const status = await responseStatus(stream, origin, timeout, firstByte);
    if (status !== 200) throw refusalError(status, await readSome(stream, timeout), origin);
    return {
      transport: http2StreamTransport(stream),
      kind: "http2",
      dispose: () => closeSession(session),
      ...(firstByte === undefined ? {} : { firstByte }),
    };
  } catch (error) {
    session.destroy();
    throw connectFailure(error, origin);
  }
}

function responseStatus(
  stream: ClientHttp2Stream,
  origin: string,
  timeout: number,
  firstByte: FirstByteDeadline | undefined,
): Promise<number> {
  return withDeadline(
    firstByte?.remaining() ?? timeout,
    () =>
      firstByte?.error("response") ??
      new ConnectError(`${origin} did not answer the session request within ${timeout} ms`),
    (resolve, reject) => {
      stream.once("response", (headers) => resolve(Number(headers[":status"])));
      stream.once("error", reject);
      stream.once("close", () =>
        reject(new ConnectError(`${origin} reset the session request (HTTP/2 code ${stream.rstCode})`)),
      );
    },
  );
}

/** Reads an error body (bounded in size and time). */
function readSome(stream: ClientHttp2Stream, timeout: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  return withDeadline<string>(
    timeout,
    () => new ConnectError("timed out reading the refusal"),
    (resolve) => {
      const done = (): void => resolve(Buffer.concat(chunks).toString("utf8"));
      stream.on("data", (chunk: Buffer) => {
        if (size < MAX_ERROR_BODY) chunks.push(chunk);
        size += chunk.byteLength;
      });
      stream.once("end", done);
      stream.once("close", done);
    },
  ).catch(() => Buffer.concat(chunks).toString("utf8"));
}

function closeSession(session: ClientHttp2Session): void {
  if (session.destroyed) return;
  const timer = setTimeout(() => session.destroy(), 1000);
  timer.unref();
  session.close(() => clearTimeout(timer));
}

/** The URL's path without a trailing slash: a hub behind a proxy may live under a prefix. */
export function basePath(url: URL): string {
  return url.pathname.replace(/\/+$/, "");
}
