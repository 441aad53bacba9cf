/** What travels in a gateway call, and the gateway's log callback. */
import type { ByteStream, FileDescriptor } from "../hub/index.js";

/** A gateway call: relay the connection over `stream`, or hand the connected socket over. */
export interface GatewayRequest {
  stream?: ByteStream;
  handoff?: boolean;
}

/** The reply: `relayed` once the stream is joined to the upstream, or the upstream socket. */
export interface GatewayReply {
  relayed?: boolean;
  socket?: FileDescriptor;
}

/** Receives one human-readable line per failure. */
export type GatewayLog = (line: string) => void;
