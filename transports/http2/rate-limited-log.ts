/**
 * A log for events a peer can cause at will (a refused connection, a dropped socket): at most
 * one line per kind per `intervalMs`, followed by how many were left out, so a flood of
 * connections cannot flood the log or the disk while the operator still learns it happened.
 */
export class RateLimitedLog {
  readonly #last = new Map<string, { at: number; suppressed: number }>();

  constructor(
    private readonly write: (line: string) => void,
    private readonly intervalMs = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Logs `line` unless a line of `kind` was logged within the interval (then counts it). */
  log(kind: string, line: string): void {
    const dropped = this.admit(kind);
    if (dropped === undefined) return;
    this.write(dropped === 0 ? line : `${line} (and ${dropped} more like it since the last such line)`);
  }

  /**
   * Whether an event of `kind` may be reported now: the number of events of that kind left out
   * since the last one reported, or undefined when this one is to be left out (and is counted).
   * `kind` must come from a small fixed set (never from what a peer sends): one entry each.
   */
  admit(kind: string): number | undefined {
    const now = this.now();
    const last = this.#last.get(kind);
    if (last !== undefined && now - last.at < this.intervalMs) {
      last.suppressed += 1;
      return undefined;
    }
    this.#last.set(kind, { at: now, suppressed: 0 });
    return last?.suppressed ?? 0;
  }

  /**
   * Takes the count of events of `kind` left out since the last one reported, as if one were
   * reported now (the interval starts again): for a summary of a burst when it ends.
   */
  takeLeftOut(kind: string): number {
    const last = this.#last.get(kind);
    if (last === undefined) return 0;
    this.#last.set(kind, { at: this.now(), suppressed: 0 });
    return last.suppressed;
  }
}
