/**
 * An intrusive doubly linked list: each member carries its own `Link` for this list. Adding and
 * removing are O(1) and, unlike a `Set`, never hash the member — hashing an object the first
 * time costs V8 an identity-hash slot, which made Set-based tracking the largest cost of an
 * asynchronous in-process call.
 */
export class Link<T> {
  prev: Link<T> | undefined;
  next: Link<T> | undefined;
  list: LinkedList<T> | undefined;
  constructor(readonly owner: T) {}
}

export class LinkedList<T> {
  #head: Link<T> | undefined;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  add(link: Link<T>): void {
    if (link.list !== undefined) return;
    link.list = this;
    link.next = this.#head;
    if (this.#head !== undefined) this.#head.prev = link;
    this.#head = link;
    this.#size += 1;
  }

  remove(link: Link<T>): void {
    if (link.list !== this) return;
    if (link.prev !== undefined) link.prev.next = link.next;
    else this.#head = link.next;
    if (link.next !== undefined) link.next.prev = link.prev;
    link.prev = link.next = link.list = undefined;
    this.#size -= 1;
  }

  /** Empties the list and returns its members (newest first). */
  takeAll(): T[] {
    const members: T[] = [];
    for (let link = this.#head; link !== undefined;) {
      const next = link.next;
      members.push(link.owner);
      link.prev = link.next = link.list = undefined;
      link = next;
    }
    this.#head = undefined;
    this.#size = 0;
    return members;
  }
}
