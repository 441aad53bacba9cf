import type { WireConnection } from "../../wire/connection.js";
import { Refusal } from "./refusal.js";

/**
 * The sessions a server holds, counted per identity (or per remote address for anonymous
 * peers) so that one peer cannot take them all.
 */
export class SessionTable {
  readonly #connections = new Set<WireConnection>();
  readonly #perKey = new Map<string, number>();

  constructor(
    private readonly maxSessions: number,
    private readonly maxPerKey: number,
  ) {}

  get size(): number {
    return this.#connections.size;
  }

  /** Refuses (throws a `Refusal`) when a session for `key` would exceed a limit. */
  admit(key: string): void {
    if (this.#connections.size >= this.maxSessions) {
      throw new Refusal(
        503,
        "ETOO_MANY_SESSIONS",
        `the hub holds its maximum of ${this.maxSessions} sessions`,
      );
    }
    if ((this.#perKey.get(key) ?? 0) >= this.maxPerKey) {
      throw new Refusal(
        429,
        "ETOO_MANY_SESSIONS",
        `at most ${this.maxPerKey} sessions per identity (${key})`,
      );
    }
  }

  /** Tracks `connection` under `key` until it closes. */
  add(connection: WireConnection, key: string): void {
    this.#connections.add(connection);
    this.#perKey.set(key, (this.#perKey.get(key) ?? 0) + 1);
    void connection.closed.then(() => {
      this.#connections.delete(connection);
      const left = (this.#perKey.get(key) ?? 1) - 1;
      if (left === 0) this.#perKey.delete(key);
      else this.#perKey.set(key, left);
    });
  }

  /** Closes every session (GOAWAY `ENORMAL` with `reason`) and waits until all are gone. */
  async closeAll(reason: string): Promise<void> {
    const all = [...this.#connections];
    for (const connection of all) connection.close(reason);
    await Promise.all(all.map((connection) => connection.closed));
  }
}
