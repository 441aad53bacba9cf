import { InvalidArgumentError } from "../model/errors.js";
import type { ByteTransport, TransportHandlers } from "./connection.js";
import { ConnectionLostError } from "./errors.js";
import { encodeFrame, FrameType } from "./frame.js";

/**
 * Default keep-alive interval (ms). A peer silent for 4 s (2x) is dead, so a frozen or vanished
 * one is detected within 4.5 s (2.25x); a live one is dropped only if it stalls for 2.5 s or
 * more (1.25x) while the session is idle, 4 s while it sends. Why these numbers: detection
 * within 5 s was the aim, and a stall of 2.5 s is far beyond ordinary pauses — V8's major GCs
 * mark concurrently and paused a Node process for 31–96 ms while its heap grew to 600 MB on this
 * (shared, loaded) 2-core machine. Only a forced full GC of a big heap of small objects comes
 * near it (0.5 s for 200 MB, 2.1 s for 500 MB, 5.7 s for 1 GB): processes with such heaps, or
 * with long synchronous stretches, should use a larger interval (PROTOCOL.md, "Keep-alive").
 */
export const DEFAULT_KEEP_ALIVE_MS = 2000;

/**
 * Looks per interval: silence is measured in quarters of an interval, so detection comes at most
 * a quarter after the limit.
 */
const TICKS_PER_INTERVAL = 4;
/**
 * Silence, in looks, after which each look sends a PING (half an interval): an idle peer's last
 * answer is then never older than about half an interval when it stalls, which leaves it most of
 * the two intervals before it is judged dead.
 */
const PING_AFTER_TICKS = TICKS_PER_INTERVAL / 2;
/** Silence, in looks, after which the peer is dead (two intervals). */
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
 * Every `intervalMs / 4` a timer looks whether anything arrived since its last look. After half
 * an interval of silence each look sends a PING (any beamhub peer answers PONG); after two
 * intervals the peer is taken for dead: the transport reports `ConnectionLostError` and is
 * aborted, so every call, stream and channel of the session fails at once. A frozen or vanished
 * peer is so detected between 2x and 2.25x the interval after the last bytes it sent; a live
 * peer is never dropped for a stall shorter than 1.25x the interval (an idle session: its last
 * answer may be up to 0.75x old when it stalls) to 2x (a session that was sending).
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
      withoutFds: inner.withoutFds,
      write: (chunks, fds) => inner.write(chunks, fds),
      get bufferedBytes() {
        return inner.bufferedBytes;
      },
      pause: inner.pause && (() => inner.pause!()),
      resume: inner.resume && (() => inner.resume!()),
      start: (handlers) => inner.start(handlers),
      close: () => inner.close(),
      abort: () => void (inner.abort ?? inner.close).call(inner),
      flush: inner.flush === undefined ? undefined : () => inner.flush!(),
      arm: () => undefined,
    };
  }
  let heard = false;
  let silentTicks = 0;
  let finished = false;
  let timer: ReturnType<typeof setInterval> | undefined;
  let handlers: TransportHandlers | undefined;
  /** The transport's `writesUnblocked` at the last look. */
  let unblocked = inner.writesUnblocked ?? 0;
  /** A verdict of death waits for the input already there (see `tick`). */
  let judging = false;
  const stop = (): void => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  /** Whether the peer showed life since the last look: it sent bytes, or took some of ours. */
  const alive = (): boolean => {
    const now = inner.writesUnblocked ?? 0;
    if (!heard && now === unblocked) return false;
    heard = false;
    unblocked = now;
    silentTicks = 0;
    return true;
  };
  const die = (): void => {
    judging = false;
    if (finished || timer === undefined || alive()) return;
    stop();
    const error = new ConnectionLostError(
      `the peer sent nothing for ${(silentTicks * intervalMs) / TICKS_PER_INTERVAL} ms or more ` +
        `(keep-alive: PING after ${intervalMs} ms of silence, dead after ${2 * intervalMs} ms)`,
    );
    finished = true;
    handlers?.closed(error);
    void (inner.abort ?? inner.close).call(inner);
  };
  const tick = (): void => {
    if (alive() || judging) return;
    silentTicks++;
    if (silentTicks >= DEAD_AFTER_TICKS) {
      // Timers run before the loop reads its sockets: after a stall of this process the peer's
      // answer may be waiting, unread. The verdict comes after the next read (setImmediate runs
      // after the loop's I/O phase), so only a peer that truly said nothing is dropped.
      judging = true;
      setImmediate(die);
    } else if (silentTicks >= PING_AFTER_TICKS) {
      inner.write([PING], []);
      inner.flush?.();
    }
  };
  return {
    supportsFds: inner.supportsFds,
    withoutFds: inner.withoutFds,
    write: (chunks, fds) => inner.write(chunks, fds),
    flush: inner.flush === undefined ? undefined : () => inner.flush!(),
    // Backpressure passes through untouched (see ByteTransport).
    get bufferedBytes() {
      return inner.bufferedBytes;
    },
    get writesUnblocked() {
      return inner.writesUnblocked;
    },
    pause: inner.pause && (() => inner.pause!()),
    resume: inner.resume && (() => inner.resume!()),
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
        drain: () => given.drain?.(),
      });
    },
    close() {
      stop();
      return inner.close();
    },
    abort() {
      stop();
      void (inner.abort ?? inner.close).call(inner);
    },
    arm() {
      if (timer !== undefined || finished) return;
      heard = false;
      silentTicks = 0;
      unblocked = inner.writesUnblocked ?? 0;
      timer = setInterval(tick, Math.max(1, Math.floor(intervalMs / TICKS_PER_INTERVAL)));
      // The keep-alive never keeps a process alive by itself.
      timer.unref();
    },
  };
}
