import type { TransportHandlers } from "../../wire/connection.js";
import { ConnectionLostError } from "../../wire/errors.js";
import type { AbortableTransport } from "../../wire/keep-alive.js";
import { CLOSE_STALL_MS } from "../../wire/send-backlog.js";
import { AcknowledgedClose } from "./acknowledged-close.js";
import { SendProgress } from "./send-progress.js";
import { PacedSender } from "./websocket-sender.js";

/** WebSocket close codes a session uses (RFC 6455, 7.4.1). */
export const WS_NORMAL = 1000;
export const WS_UNSUPPORTED_DATA = 1003;

/** Default largest WebSocket message either side sends (and the server accepts, plus slack). */
export const DEFAULT_WS_MESSAGE_SIZE = 1024 * 1024;

/** Bytes handed to the socket and not yet written at which a session stops reading the peer. */
export const WRITE_HIGH_WATER_MARK = 1024 * 1024;
/** ...and at which it reads again. */
const WRITE_LOW_WATER_MARK = WRITE_HIGH_WATER_MARK / 2;

/**
 * Bytes still unsent from which this side counts as waiting for the peer (`writesUnblocked`):
 * Node's own streams' mark. A keep-alive's PING to a peer that is gone stays below it.
 */
const WAITING_MARK = 16 * 1024;

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
   * Bytes sent and not yet handed to the network, falling piece by piece (the WebSocket API's
   * `bufferedAmount`): how a closing transport and the keep-alive see the peer take bytes.
   */
  readonly bufferedAmount: number;
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
 *
 * `close()` starts the closing handshake after what was written and resolves once the peer
 * answered it and the socket closed (see {@link AcknowledgedClose}), or once the socket was
 * dropped because the peer took nothing for `closeStallMs`. `writesUnblocked` counts the
 * keep-alive's looks at which bytes left while more waited (see {@link SendProgress}): a peer
 * that reads, however slowly.
 */
export function webSocketTransport(
  port: WebSocketPort,
  maxMessage = DEFAULT_WS_MESSAGE_SIZE,
  closeStallMs = CLOSE_STALL_MS,
): AbortableTransport {
  let handlers: TransportHandlers | undefined;
  let early: Uint8Array[] | undefined = [];
  let earlyClose: { error: Error | undefined } | undefined;
  let done = false;
  /** Whether `close` was called: nothing more is sent. */
  let closeAsked = false;
  const closed = (error?: Error): void => {
    closing.connectionClosed();
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
  // An unresponsive peer would never answer the closing handshake: drop the connection.
  const abort = (): void => {
    paced?.clear();
    if (port.terminate !== undefined) port.terminate();
    else if (port.canClose) port.close(WS_NORMAL);
  };
  // A WebSocket has no 'drain': where the socket says when it wrote, the bytes given to it and
  // not yet written are counted, and it is fed a share at a time (see PacedSender).
  let owesDrain = false;
  const paced = port.reportsWrites
    ? new PacedSender(
        (piece, fin, written) => port.send(piece, fin, written),
        () => {
          if (owesDrain && paced!.buffered <= WRITE_LOW_WATER_MARK) {
            owesDrain = false;
            handlers?.drain?.();
          }
        },
      )
    : undefined;
  const send =
    paced === undefined ? (piece: Uint8Array, fin: boolean) => port.send(piece, fin) : paced.send.bind(paced);
  /** Bytes given to a socket that does not say when it wrote (browsers: it counts `bufferedAmount`). */
  let handed = 0;
  const progress = new SendProgress(
    paced === undefined ? () => handed - port.bufferedAmount : () => paced.written,
    paced === undefined ? () => port.bufferedAmount >= WAITING_MARK : () => paced.buffered >= WAITING_MARK,
  );
  const closing = new AcknowledgedClose(progress.sent, closeStallMs);
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

  return {
    supportsFds: false,
    write(chunks) {
      if (!port.isOpen || closeAsked) return;
      let total = 0;
      for (const chunk of chunks) total += chunk.byteLength;
      handed += total;
      if (total <= COPY_LIMIT) {
        send(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, total), true);
      } else {
        sendPieces(send, chunks, total, maxMessage);
      }
      // A socket that does not say when it wrote gives no backpressure (browsers).
      if (paced === undefined) return;
      if (paced.buffered < WRITE_HIGH_WATER_MARK) return true;
      owesDrain = true;
      return false;
    },
    get bufferedBytes() {
      return paced?.buffered;
    },
    get writesUnblocked() {
      return progress.look();
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
    close: () =>
      closing.close(() => {
        closeAsked = true;
        // The closing handshake goes after the pieces still waiting for the socket.
        const closeSocket = (): void => {
          if (port.canClose) port.close(WS_NORMAL);
        };
        if (paced === undefined) closeSocket();
        else paced.whenHanded(closeSocket);
      }, abort),
    abort,
  };
}

/** Sends `chunks` as messages of at most `maxMessage` bytes, each made of uncopied pieces. */
function sendPieces(
  send: (piece: Uint8Array, fin: boolean) => void,
  chunks: Uint8Array[],
  total: number,
  maxMessage: number,
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
      send(piece, fin);
      if (fin) inMessage = 0;
    }
  }
}
