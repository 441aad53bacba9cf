/**
 * Ownership of everything that must be closed with something else.
 *
 * A hub owns its sessions; a session owns the channels, byte streams and descriptors that
 * passed through it; a channel owns those carried by its messages. Closing an owner closes what
 * it owns, so nothing outlives the conversation it belonged to. An attachment may have several
 * owners (a channel passed from a worker's session to a pool's session belongs to both) and
 * closes when the first of them does.
 */
export interface Closable {
  /** Closes the object and everything it owns; idempotent. */
  close(reason?: unknown): void;
}

/** Something that can be owned by scopes and tells them when it closes on its own. */
export interface Ownable extends Closable {
  /** Called by a scope that starts owning this object. */
  addOwner(owner: Scope): void;
}

export class Scope implements Closable {
  readonly #members = new Set<Closable>();
  #closed = false;

  get closed(): boolean {
    return this.#closed;
  }

  /** Makes this scope close `member` when it closes. A closed scope closes `member` at once. */
  own(member: Ownable): void {
    if (this.#closed) {
      member.close(new Error("owner already closed"));
      return;
    }
    if (this.#members.has(member)) return;
    this.#members.add(member);
    member.addOwner(this);
  }

  /** Forgets `member` (it closed by itself). */
  release(member: Closable): void {
    this.#members.delete(member);
  }

  get size(): number {
    return this.#members.size;
  }

  close(reason?: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const member of this.#members) member.close(reason);
    this.#members.clear();
  }
}

/**
 * Bookkeeping for an `Ownable`: remembers its owners so that it can leave them when it closes
 * by itself (otherwise a long-lived session would keep every closed channel alive).
 */
export class Owners {
  #owners: Scope[] | undefined;

  add(owner: Scope): void {
    (this.#owners ??= []).push(owner);
  }

  /** Detaches `member` from every owner; call once when it closes. */
  leaveAll(member: Closable): void {
    const owners = this.#owners;
    if (owners === undefined) return;
    this.#owners = undefined;
    for (const owner of owners) owner.release(member);
  }
}
