import type { TLSSocket } from "node:tls";

const TIMER = Symbol("beamhub.handshakeTimer");

type Guarded = TLSSocket & { [TIMER]?: ReturnType<typeof setTimeout> };

/**
 * Slow-loris defence: a TLS connection must send its first HTTP request within `timeoutMs`
 * of the TLS handshake, or it is destroyed. (The TLS handshake itself is bounded by the TLS
 * server's `handshakeTimeout`, which `listenHttps` sets.) An HTTP/2 session's socket proxy
 * reaches the same timer, so one guard covers HTTP/1.1 and HTTP/2.
 */
export class HandshakeGuard {
  constructor(private readonly timeoutMs: number) {}

  /** Starts the clock for a fresh TLS connection. */
  start(socket: TLSSocket): void {
    if (!(this.timeoutMs > 0)) return;
    const timer = setTimeout(() => socket.destroy(), this.timeoutMs);
    timer.unref();
    (socket as Guarded)[TIMER] = timer;
    socket.once("close", () => clearTimeout(timer));
  }

  /** A request arrived on `socket`: its handshake is done. */
  passed(socket: TLSSocket | undefined): void {
    const timer = (socket as Guarded | undefined)?.[TIMER];
    if (timer !== undefined) clearTimeout(timer);
  }
}
