/** The longest a client command waits for a session with the hub, whatever its `--timeout`. */
export const CONNECT_TIMEOUT_MS = 10_000;

/**
 * A command's `--timeout`, spent across its steps: connecting, then the call. `timeoutMs` 0
 * means no bound (the connect still gets {@link CONNECT_TIMEOUT_MS}).
 */
export class CommandDeadline {
  readonly #timeoutMs: number;
  readonly #end: number;

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
    this.#end = performance.now() + timeoutMs;
  }

  /** The command's `--timeout` in ms (0: none). */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** What is left in ms (at least 1), or undefined without a bound. */
  remaining(): number | undefined {
    if (this.#timeoutMs <= 0) return undefined;
    return Math.max(1, Math.round(this.#end - performance.now()));
  }

  /** The bound on connecting: what is left, and never more than {@link CONNECT_TIMEOUT_MS}. */
  connectTimeout(): number {
    return Math.min(this.remaining() ?? CONNECT_TIMEOUT_MS, CONNECT_TIMEOUT_MS);
  }

  /**
   * Settles with `operation`, or rejects with `onTimeout()` once the time is up (a hub that
   * stopped answering after the connect cannot stretch the command).
   */
  async race<T>(operation: Promise<T>, onTimeout: () => Error): Promise<T> {
    const left = this.remaining();
    if (left === undefined) return operation;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(onTimeout()), left);
    });
    try {
      return await Promise.race([operation, late]);
    } finally {
      clearTimeout(timer);
    }
  }
}
