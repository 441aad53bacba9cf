import type { ByteTransport, TransportHandlers } from "../../wire/connection.js";
import { ConnectionLostError } from "../../wire/errors.js";
import { encodeFrame, FrameType } from "../../wire/frame.js";

/** A transport that probes a quiet peer and gives up on a silent one. */
export interface KeepAliveTransport extends ByteTransport {
  /** Allows PINGs: call once the session's HELLOs were exchanged (PROTOCOL.md, "Handshake"). */
  arm(): void;
}

/**
 * Wraps a network transport with the session protocol's own keep-alive: when nothing arrived
 * for `intervalMs`, a PING frame goes out (any beamhub peer answers PONG); when nothing at all
 * arrived for twice that, the peer is taken for dead and the connection fails with
 * `ConnectionLostError`. This finds half-open TCP connections, frozen peers and dead proxies
 * that TCP itself would only notice after minutes, and keeps NATs and proxies from dropping a
 * quiet but live session. PINGs are written between the connection's batches, which always
 * hold whole frames. `intervalMs <= 0` disables it.
 */
export function withKeepAlive(inner: ByteTransport, intervalMs: number): KeepAliveTransport {
  let armed = false;
  let lastReceived = Date.now();
  let timer: ReturnType<typeof setInterval> | undefined;
  let handlers: TransportHandlers | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  const tick = (): void => {
    const silent = Date.now() - lastReceived;
    if (silent >= 2 * intervalMs) {
      stop();
      handlers?.closed(
        new ConnectionLostError(
          `the peer sent nothing for ${silent} ms (keep-alive interval ${intervalMs} ms)`,
        ),
      );
      inner.close();
    } else if (silent >= intervalMs && armed) {
      const payload = new Uint8Array(8);
      new DataView(payload.buffer).setFloat64(0, Date.now());
      inner.write([encodeFrame(FrameType.PING, 0, payload)], []);
    }
  };
  return {
    supportsFds: inner.supportsFds,
    write: (chunks, fds) => inner.write(chunks, fds),
    get bufferedBytes() {
      return inner.bufferedBytes;
    },
    pause: inner.pause && (() => inner.pause!()),
    resume: inner.resume && (() => inner.resume!()),
    abort:
      inner.abort &&
      (() => {
        stop();
        inner.abort!();
      }),
    start(given) {
      handlers = given;
      inner.start({
        data(chunk, fds) {
          lastReceived = Date.now();
          given.data(chunk, fds);
        },
        closed(error) {
          stop();
          given.closed(error);
        },
        drain: () => given.drain?.(),
      });
      if (intervalMs > 0) {
        timer = setInterval(tick, Math.max(1, Math.floor(intervalMs / 2)));
        timer.unref();
      }
    },
    close() {
      stop();
      inner.close();
    },
    arm() {
      armed = true;
    },
  };
}
