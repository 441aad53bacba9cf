import { BeamhubError } from "../../base/error.js";

/** A tunnel between two hubs could not be set up: certificate, signature, addressing, time (`ETUNNEL_HANDSHAKE`). */
export class TunnelHandshakeError extends BeamhubError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ETUNNEL_HANDSHAKE", message, options);
  }
}

/**
 * A record of an open tunnel failed authentication: a byte was changed, dropped, replayed or
 * reordered on the way (`ETUNNEL_AUTH`). The tunnel is torn down; nothing of the record is used.
 */
export class TunnelAuthError extends BeamhubError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("ETUNNEL_AUTH", message, options);
  }
}
