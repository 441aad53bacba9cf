import type { TransportHandlers } from "../../wire/connection.js";
import { ConnectionLostError } from "../../wire/errors.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";

/** WebSocket close codes a session uses (RFC 6455, 7.4.1). */
export const WS_NORMAL = 1000;
export const WS_UNSUPPORTED_DATA = 1003;

/** Default largest WebSocket message either side sends (and the server accepts, plus slack). */
export const DEFAULT_WS_MESSAGE_SIZE = 1024 * 1024;

/** Bytes handed to the socket and not yet written at which a session stops reading the peer. */
export const WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** ...and at which it reads again. */
const WRITE_LOW_WATER_MARK = WRITE_HIGH_WATER_MARK / 2;

/** Batches up to this size are copied into one message; larger ones go piece by piece. */
const COPY_LIMIT = 64 * 1024;

const NO_FDS: readonly number[] = Object.freeze([]);

/**
 * What a WebSocket implementation gives the session transport: Node's `ws` (ws-socket-port.ts)
 * and the browser's own (browser/websocket-transport.ts) each adapt theirs in a few lines, so
 * that everything a session does with a WebSocket is written once, here.
 */
export interface WebSocketPort {
  /** Whether messages can be sent (the socket is open). */
  readonly isOpen: boolean;
  /** Whether the closing handshake can still be started (the socket is connecting or open). */
  readonly canClose: boolean;
  /**
   * Whether `send` calls its `written` callback once a piece has been handed to the network:
   * only then does the transport count what is buffered and report backpressure.
   */
  readonly reportsWrites: boolean;
  /**
   * Sends `piece` as part of a binary message that `fin` ends, without copying it if it can. A
   * socket that cannot leave a message open sends each piece as a message of its own (message
   * boundaries carry no meaning to a session).
   */
  send(piece: Uint8Array, fin: boolean, written?: () => void): void;
  /** Starts the closing handshake. */
  close(code: number, reason?: string): void;
  /** Drops the connection at once (optional; else `close`). */
  terminate?(): void;
  /** Stops and resumes reading from the peer (optional: then the peer's writes back up). */
  pause?(): void;
  resume?(): void;
  /** Reports what the socket does from now on; called once, when the transport is made. */
  listen(events: WebSocketEvents): void;
}

/** What a {@link WebSocketPort} reports. */
export interface WebSocketEvents {
  /** A binary message arrived. */
  binary(data: Uint8Array): void;
  /** A text message arrived: a protocol error for a session. */
  text(): void;
  /** The socket closed, with the close frame's code and reason. */
  closed(code: number, reason: string): void;
  /** The socket failed (a close that follows adds nothing). */
  failed(error: Error): void;
}

/**
 * A session over a WebSocket, in Node and in browsers: binary messages carry the PROTOCOL.md
 * byte stream. A batch of frames is normally one message; a batch larger than `maxMessage` is
 * cut into several (the receiver parses a byte stream, so message boundaries carry no meaning
 * and a frame may span messages). Big batches go out as pieces of messages, without copying
 * the chunks (fragments where the socket can send them). Messages that arrive before `start`
 * are kept. A text message fails the session (close code 1003); a close with any code but 1000
 * is a `ConnectionLostError`.
 */
export function webSocketTransport(
  port: WebSocketPort,
  maxMessage = DEFAULT_WS_MESSAGE_SIZE,
): AbortableTransport {
  let handlers: TransportHandlers | undefined;
  let early: Uint8Array[] | undefined = [];
  let earlyClose: { error: Error | undefined } | undefined;
  let done = false;
  const closed = (error?: Error): void => {
    if (done) return;
    if (handlers === undefined) {
      earlyClose ??= { error };
      return;
    }
    done = true;
    handlers.closed(error);
  };
  const data = (chunk: Uint8Array): void => {
    if (done) return;
    if (handlers === undefined) early?.push(chunk);
    else handlers.data(chunk, NO_FDS);
  };
  port.listen({
    binary: data,
    text() {
      closed(
        new ConnectionLostError("the peer sent a text WebSocket message (only binary frames are allowed)"),
      );
      port.close(WS_UNSUPPORTED_DATA, "binary messages only");
    },
    closed: (code, reason) =>
      closed(
        code === WS_NORMAL
          ? undefined
          : new ConnectionLostError(
              `the WebSocket closed (code ${code}${reason.length > 0 ? `: ${reason}` : ""})`,
            ),
      ),
    failed: (error) => closed(new ConnectionLostError(`WebSocket failed: ${error.message}`, error)),
  });

  // A WebSocket has no 'drain': the bytes handed to the socket and not yet written are counted
  // here, each send's `written` (the socket took it) taking its bytes off.
  let buffered = 0;
  let owesDrain = false;
  const written = (bytes: number) => () => {
    buffered -= bytes;
    if (owesDrain && buffered <= WRITE_LOW_WATER_MARK) {
      owesDrain = false;
      handlers?.drain?.();
    }
  };

  return {
    supportsFds: false,
    write(chunks) {
      if (!port.isOpen) return;
      let total = 0;
      for (const chunk of chunks) total += chunk.byteLength;
      const counted = port.reportsWrites;
      if (counted) buffered += total;
      const sent = counted ? written(total) : undefined;
      if (total <= COPY_LIMIT) {
        port.send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), true, sent);
      } else {
        sendPieces(port, chunks, total, maxMessage, sent);
      }
      // A socket that does not say when it wrote gives no backpressure (browsers).
      if (!counted) return;
      if (buffered < WRITE_HIGH_WATER_MARK) return true;
      owesDrain = true;
      return false;
    },
    get bufferedBytes() {
      return port.reportsWrites ? buffered : undefined;
    },
    ...(port.pause === undefined || port.resume === undefined
      ? {}
      : { pause: () => port.pause!(), resume: () => port.resume!() }),
    start(given) {
      handlers = given;
      const pending = early ?? [];
      early = undefined;
      for (const chunk of pending) data(chunk);
      if (earlyClose !== undefined) closed(earlyClose.error);
    },
    close() {
      if (port.canClose) port.close(WS_NORMAL);
    },
    // An unresponsive peer would never answer the closing handshake: drop the connection.
    abort() {
      if (port.terminate !== undefined) port.terminate();
      else if (port.canClose) port.close(WS_NORMAL);
    },
  };
}

/** Sends `chunks` as messages of at most `maxMessage` bytes, each made of uncopied pieces. */
function sendPieces(
  port: WebSocketPort,
  chunks: Uint8Array[],
  total: number,
  maxMessage: number,
  done: (() => void) | undefined,
): void {
  let inMessage = 0;
  let remaining = total;
  for (const chunk of chunks) {
    let offset = 0;
    while (offset < chunk.byteLength) {
      const take = Math.min(chunk.byteLength - offset, maxMessage - inMessage);
      const piece = offset === 0 && take === chunk.byteLength ? chunk : chunk.subarray(offset, offset + take);
      offset += take;
      inMessage += take;
      remaining -= take;
      const fin = remaining === 0 || inMessage === maxMessage;
      // The last piece's callback comes after every earlier one's (one socket, in order).
      port.send(piece, fin, remaining === 0 ? done : undefined);
      if (fin) inMessage = 0;
    }
  }
}
