/** What travels in a gateway call, and the gateway's log callback. */
import type { ByteStream, FileDescriptor } from "../hub/index.js";

/** A gateway call: relay the connection over `stream`, or hand the connected socket over. */
export interface GatewayRequest {
  stream?: ByteStream;
  handoff?: boolean;
}

/**
 * The reply: `relayed` once the stream is joined to the upstream, or the upstream socket — a
 * descriptor where fds travel (Unix, in-process), a byte stream of its bytes where they cannot
 * (HTTPS, WebSocket: PROTOCOL.md, "Descriptors on network transports").
 */
export interface GatewayReply {
  relayed?: boolean;
  socket?: FileDescriptor | ByteStream;
}

/** Receives one human-readable line per failure. */
export type GatewayLog = (line: string) => void;
