import type { WebSocket } from "ws";
import type { WebSocketPort } from "./websocket-transport.js";

/**
 * Node's WebSocket (`ws`) as the session transport's port: messages go out as fragments
 * without copying, each send says when it was written (backpressure), and reading can pause.
 * Its own event API (`on`), not the WHATWG one it also has, so that no event object is made per
 * message.
 */
export function wsSocketPort(socket: WebSocket): WebSocketPort {
  return {
    get isOpen() {
      return socket.readyState === socket.OPEN;
    },
    get canClose() {
      return socket.readyState === socket.OPEN || socket.readyState === socket.CONNECTING;
    },
    reportsWrites: true,
    get bufferedAmount() {
      return socket.bufferedAmount;
    },
    send: (piece, fin, written) => socket.send(piece, { binary: true, fin }, written),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate(),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    listen(events) {
      socket.on("message", (data: Buffer, isBinary: boolean) => {
        if (isBinary) events.binary(data);
        else events.text();
      });
      socket.on("error", (error: Error) => events.failed(error));
      socket.on("close", (code: number, reason: Buffer) => events.closed(code, reason.toString()));
    },
  };
}
