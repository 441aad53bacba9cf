/**
 * The byte path of a socket task once both sides are there. A side is either an HTTP/1.1
 * connection that asked to upgrade (the REST face) or a hub byte stream (the TypeScript API);
 * whichever the two are, bytes flow both ways with backpressure, a half-close (FIN) travels as
 * the end of one direction, and an error or a reset on one side resets the other.
 */
import type { Socket } from "node:net";
import { ByteStream } from "../../model/byte-stream.js";
import { spliceSockets, spliceSocketStream } from "../../wire/socket-stream.js";

/** One side of a socket task, waiting for the other. */
export type SocketEnd =
  /**
   * An HTTP/1.1 connection that is answered 101 when the other side is there. Whoever watched
   * it while it waited stops in `beforeJoin` (and gives back, with `unshift`, what it read).
   */
  | { readonly kind: "http"; readonly socket: Socket; readonly beforeJoin?: () => void }
  /** A caller of the TypeScript API, handed its end of a byte stream when the other side is there. */
  | { readonly kind: "stream"; readonly deliver: (stream: ByteStream) => void };

/**
 * Samply's answer to an upgrade that succeeded. Samply's relay then encrypts from proxy to
 * proxy; between two applications on one hub the bytes never leave this process, so they go
 * as they are (see SECURITY.md).
 */
export const SWITCHING_PROTOCOLS =
  "HTTP/1.1 101 Switching Protocols\r\nupgrade: tcp\r\nconnection: upgrade\r\n\r\n";

/**
 * Joins two ends and resolves once both are closed. Two HTTP connections are joined to each
 * other directly (no stream in between); an HTTP connection and a stream through a byte
 * stream pair; two streams get the two ends of one pair, so the hub holds nothing of theirs.
 * `highWaterMark` bounds the bytes a pair buffers per direction.
 */
export function joinEnds(a: SocketEnd, b: SocketEnd, highWaterMark: number): Promise<void> {
  for (const end of [a, b]) if (end.kind === "http") end.beforeJoin?.();
  if (a.kind === "http" && b.kind === "http") {
    a.socket.write(SWITCHING_PROTOCOLS);
    b.socket.write(SWITCHING_PROTOCOLS);
    return spliceSockets(a.socket, b.socket);
  }
  const [mine, theirs] = ByteStream.pair({ highWaterMark });
  if (a.kind === "stream" && b.kind === "stream") {
    a.deliver(mine);
    b.deliver(theirs);
    return Promise.all([mine.closed, theirs.closed]).then(() => undefined);
  }
  const http = (a.kind === "http" ? a : b) as Extract<SocketEnd, { kind: "http" }>;
  const stream = (a.kind === "stream" ? a : b) as Extract<SocketEnd, { kind: "stream" }>;
  stream.deliver(theirs);
  http.socket.write(SWITCHING_PROTOCOLS);
  return spliceSocketStream(http.socket, mine).then(() => mine.closed);
}
