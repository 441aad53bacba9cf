/**
 * What a session's close waits for first: bytes its byte streams were given but have not sent yet
 * because the peer's credit ran out (a stream end written to through a pipe or a splice is told
 * "written" before its bytes are on the wire). Closing without waiting drops them, END included:
 * the peer sees the stream reset, not ended.
 * @module
 */

/**
 * How long a closing session (and a closing Unix socket) waits for its peer to take any of the
 * bytes still to send: as long as the peer reads, however slowly, the close waits on; a peer
 * that takes nothing for this long is taken for frozen and what is left is dropped. 10 s: a busy
 * hub on a loaded machine was seen not to read a socket for more than a second, and a keep-alive
 * judges a silent peer dead after 4 s by default; a close should not give up on a peer sooner
 * than the session would.
 */
export const CLOSE_STALL_MS = 10_000;

/**
 * Resolves once `backlog()` is 0: call {@link check} whenever it may have fallen (the peer
 * granted credit, the session closed). Every `stallMs` it looks whether the backlog fell since the
 * last look; if not, it resolves anyway (the peer stopped taking bytes).
 */
export class SendBacklogWait {
  readonly done: Promise<void>;
  #resolve!: () => void;
  #timer: NodeJS.Timeout | undefined;
  #left: number;

  constructor(
    private readonly backlog: () => number,
    private readonly stallMs = CLOSE_STALL_MS,
  ) {
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    this.#left = backlog();
    // Kept ref'd: a process that closes its session and returns must not exit before the bytes leave.
    this.#timer = setTimeout(this.#look, stallMs);
    this.check();
  }

  /** The backlog may have fallen: resolve if it is empty. */
  check(): void {
    if (this.#timer === undefined || this.backlog() > 0) return;
    this.#finish();
  }

  readonly #look = (): void => {
    const now = this.backlog();
    if (now > 0 && now < this.#left) {
      this.#left = now;
      this.#timer = setTimeout(this.#look, this.stallMs);
      return;
    }
    this.#finish();
  };

  #finish(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolve();
  }
}
