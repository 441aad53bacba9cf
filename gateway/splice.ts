/**
 * Byte plumbing of the gateway: a TCP socket joined to a hub byte stream (relay) or to another
 * TCP socket (after an fd hand-off). Both propagate half-close (FIN) and resets (RST) faithfully
 * and respect backpressure in both directions.
 */
import type { Socket } from "node:net";
import { resetSocket } from "../wire/socket-stream.js";

export { resetSocket, spliceSocketStream } from "../wire/socket-stream.js";

/**
 * Joins two TCP sockets: bytes both ways with backpressure (`pipe`), FIN forwarded as FIN, and
 * an error or reset on either side resets the other. Resolves when both have closed.
 */
export function spliceSockets(a: Socket, b: Socket): Promise<void> {
  a.allowHalfOpen = true;
  b.allowHalfOpen = true;
  const wire = (from: Socket, to: Socket): Promise<void> => {
    from.on("error", () => resetSocket(to));
    from.pipe(to, { end: true });
    return new Promise((resolve) =>
      from.once("close", (hadError) => {
        // Closed without finishing (destroyed locally or reset): the other side must not hang.
        if (hadError || !from.readableEnded) resetSocket(to);
        resolve();
      }),
    );
  };
  return Promise.all([wire(a, b), wire(b, a)]).then(() => undefined);
}
