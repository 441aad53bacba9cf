/**
 * Byte plumbing of the gateway: a TCP socket joined to a hub byte stream (relay) or to another
 * TCP socket (after an fd hand-off). Both propagate half-close (FIN) and resets (RST) faithfully
 * and respect backpressure in both directions.
 */
export { resetSocket, spliceSocketStream, spliceSockets } from "../wire/socket-stream.js";
