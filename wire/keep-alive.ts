import { InvalidArgumentError } from "../hub/errors.js";
import type { ByteTransport, TransportHandlers } from "./connection.js";
import { ConnectionLostError } from "./errors.js";
import { encodeFrame, FrameType } from "./frame.js";

/**
 * Default keep-alive interval (ms): a quiet session is sent a PING after 2 s of silence from its
 * peer, and the peer is taken for dead after 4 s of it, so a frozen or vanished peer is detected
 * within 5 s. Why not less: a live peer is dropped only when it is unresponsive for 4 s — a
 * blocked event loop or a GC pause of that length (a full mark-compact of a 1 GiB heap of small
 * objects takes ~0.3–0.5 s on this 2-core machine; V8 marks concurrently, so pauses are far
 * shorter for ordinary heaps) — which leaves that pause nearly 10x of headroom.
 */
export const DEFAULT_KEEP_ALIVE_MS = 2000;

/** Ticks of the keep-alive clock per interval: silence is measured in halves of an interval. */
const TICKS_PER_INTERVAL = 2;
/** Silence, in ticks, after which a PING goes out (one interval). */
const PING_AFTER_TICKS = TICKS_PER_INTERVAL;
/** Silence, in ticks, after which the peer is dead (two intervals). */
const DEAD_AFTER_TICKS = 2 * TICKS_PER_INTERVAL;

/** The largest interval accepted: a timer cannot wait longer than 2^31-1 ms. */
const MAX_INTERVAL_MS = 2 ** 31 - 1;

/**
 * A PING frame (PROTOCOL.md, "Keep-alive"); its payload is 8 arbitrary bytes. Transports may
 * keep a written buffer until it is sent: this one is never modified, so one serves all.
 */
const PING = encodeFrame(FrameType.PING, 0, new Uint8Array(8));

/** A transport that can also be dropped at once, without waiting for what is queued. */
export interface AbortableTransport extends ByteTransport {
  /**
   * Closes now: queued bytes are dropped (a dead peer would never take them), and the
   * transport reports `closed`. Idempotent. Without it, `close` is used.
   */
  abort?(): void;
}

/** A transport that probes a quiet peer and drops a silent one. */
export interface KeepAliveTransport extends AbortableTransport {
  abort(): void;
  /**
   * Starts the clock: call once the session's HELLOs were exchanged (PROTOCOL.md,
   * "Handshake"; before that a PING would be out of order, and the handshake has a deadline of
   * its own).
   */
  arm(): void;
}

/**
 * Checks a keep-alive interval: a whole number of ms, 0 to disable.
 * @throws {InvalidArgumentError} otherwise, naming `what`.
 */
export function verifyKeepAlive(intervalMs: number, what = "keepAlive"): number {
  if (!Number.isInteger(intervalMs) || intervalMs < 0 || intervalMs > MAX_INTERVAL_MS) {
    throw new InvalidArgumentError(
      `${what} must be a whole number of milliseconds from 0 (off) to ${MAX_INTERVAL_MS}, got ${String(intervalMs)}`,
    );
  }
  return intervalMs;
}

/**
 * Wraps a transport with the session protocol's own keep-alive (PROTOCOL.md, "Keep-alive").
 * Every `intervalMs / 2` a timer looks whether anything arrived since its last look. After one
 * interval of silence a PING goes out (any beamhub peer answers PONG); after two intervals the
 * peer is taken for dead: the transport reports `ConnectionLostError` and is aborted, so every
 * call, stream and channel of the session fails at once. A frozen or vanished peer is so
 * detected between 2x and 2.5x the interval after the last bytes it sent; a live peer that
 * stalls for less than 2x the interval (minus the round trip) is never dropped.
 *
 * Cheap while traffic flows: receiving costs one boolean store, and there is one timer per
 * session, which does nothing but a comparison while the peer talks. Silence is counted in
 * ticks this process actually ran, not in wall-clock time, so a stall of *this* process (a long
 * synchronous stretch, a GC pause, a SIGSTOP) never counts against its peers: after it the
 * pending input is read before the peer can be judged again.
 *
 * PINGs are written between the connection's batches, which always hold whole frames.
 * `intervalMs` 0 disables the keep-alive (the transport is passed through unchanged).
 */
export function withKeepAlive(inner: AbortableTransport, intervalMs: number): KeepAliveTransport {
  verifyKeepAlive(intervalMs);
  if (intervalMs === 0) {
    return {
      supportsFds: inner.supportsFds,
      write: (chunks, fds) => inner.write(chunks, fds),
      start: (handlers) => inner.start(handlers),
      close: () => inner.close(),
      abort: () => (inner.abort ?? inner.close).call(inner),
      flush: inner.flush === undefined ? undefined : () => inner.flush!(),
      arm: () => undefined,
    };
  }
  let heard = false;
  let silentTicks = 0;
  let finished = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let handlers: TransportHandlers | undefined;
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  const tick = (): void => {
    if (heard) {
      heard = false;
      silentTicks = 0;
      return;
    }
    silentTicks++;
    if (silentTicks >= DEAD_AFTER_TICKS) {
      stop();
      const error = new ConnectionLostError(
        `the peer sent nothing for ${(silentTicks * intervalMs) / TICKS_PER_INTERVAL} ms or more ` +
          `(keep-alive: PING after ${intervalMs} ms of silence, dead after ${2 * intervalMs} ms)`,
      );
      if (!finished) {
        finished = true;
        handlers?.closed(error);
      }
      (inner.abort ?? inner.close).call(inner);
    } else if (silentTicks >= PING_AFTER_TICKS) {
      inner.write([PING], []);
      inner.flush?.();
    }
  };
  return {
    supportsFds: inner.supportsFds,
    write: (chunks, fds) => inner.write(chunks, fds),
    flush: inner.flush === undefined ? undefined : () => inner.flush!(),
    start(given) {
      handlers = given;
      inner.start({
        data(chunk, fds) {
          heard = true;
          given.data(chunk, fds);
        },
        closed(error) {
          stop();
          if (finished) return;
          finished = true;
          given.closed(error);
        },
      });
    },
    close() {
      stop();
      inner.close();
    },
    abort() {
      stop();
      (inner.abort ?? inner.close).call(inner);
    },
    arm() {
      if (timer !== undefined || finished) return;
      heard = false;
      silentTicks = 0;
      timer = setInterval(tick, Math.max(1, Math.floor(intervalMs / TICKS_PER_INTERVAL)));
      // The keep-alive never keeps a process alive by itself.
      timer.unref();
    },
  };
}
