/**
 * Takes an HTTP/1.1 connection away from node:http in the middle of a request, for a Samply
 * socket whose client sent `Upgrade` without `Connection: upgrade`.
 *
 * Why: Samply's own example (Python `requests`) and a plain `curl -H "Upgrade: tcp"` send only
 * the `Upgrade` header, which is enough for hyper (Samply's server) to switch protocols on a
 * 101. node:http's parser treats such a request as an ordinary one, keeps parsing the
 * connection, and would read the bytes after the 101 as the next request. Node has no public
 * way to stop it, so this does what node:http itself does before it emits `upgrade`
 * (`_http_server.js`, `onParserExecuteCommon`): stop the parser from consuming the socket and
 * drop the server's socket listeners. Each internal it touches is checked first; when one is
 * missing (another Node version) the caller answers 426 and asks for `Connection: upgrade`,
 * which takes node:http's public `upgrade` path.
 * @module
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";

interface NodeHttpParser {
  _consumed?: boolean;
  unconsume(): void;
}

/** Events node:http listens to on a connection; its `close` listener stays (it frees the parser). */
const SERVER_EVENTS = ["data", "end", "drain", "error", "timeout"] as const;

/**
 * node:http's own listeners (`socketOnData` bound to its state, `socketOnError`, ...): only
 * those go. net's listeners on the same events (its `end` handling, for one) must stay.
 */
const SERVER_LISTENER = /^(bound )?socketOn[A-Z]/;

/**
 * The connection of `request`, no longer read by node:http and paused (nothing read is lost),
 * or undefined when this Node's internals are not the expected ones. The request must have no
 * body left to read; `response` must not have been written.
 */
export function takeOverSocket(request: IncomingMessage, response: ServerResponse): Socket | undefined {
  const socket = request.socket as Socket & { parser?: NodeHttpParser | null };
  const parser = socket.parser;
  if (
    parser === undefined ||
    parser === null ||
    typeof parser.unconsume !== "function" ||
    typeof (response as { detachSocket?: unknown }).detachSocket !== "function" ||
    response.headersSent
  ) {
    return undefined;
  }
  socket.pause();
  if (parser._consumed === true) {
    parser.unconsume();
    parser._consumed = false;
  }
  // While the parser held the handle, net's own read loop stood still with its flags saying
  // "reading": it would never start again by itself. Start the handle reading into the
  // (paused) socket, as node:http does when it resumes a socket (`onSocketResume`); what
  // arrives is buffered until the socket is resumed, and a full buffer stops reading.
  const handle = (socket as unknown as { _handle?: { reading?: boolean; readStart?: () => number } | null })
    ._handle;
  if (handle !== undefined && handle !== null && typeof handle.readStart === "function") {
    handle.reading = true;
    handle.readStart();
  }
  for (const event of SERVER_EVENTS) {
    for (const listener of socket.listeners(event) as ((...args: unknown[]) => void)[]) {
      if (SERVER_LISTENER.test(listener.name)) socket.off(event, listener);
    }
  }
  // The response never goes out: detach it, so that closing the socket later does not close it.
  response.detachSocket(socket);
  socket.setTimeout(0);
  // node:http's error listener is gone: a reset must not become an uncaught exception. Whoever
  // uses the socket next adds its own (the relay resets the other side).
  socket.on("error", () => socket.destroy());
  // Closing the socket makes node:http abort the request it still holds: nothing to report.
  request.on("error", () => undefined);
  return socket;
}
