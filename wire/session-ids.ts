import { ProtocolError } from "./errors.js";

const U32_MAX = 0xffffffff;

/**
 * The ids of one session (PROTOCOL.md "Model"): the client allocates odd ids, the server even
 * ones, channels and byte streams from one sequence, and id 0 is the root channel. Ids only
 * grow, so one is never reused.
 */
export class SessionIds {
  #next: number;
  /** Whether the peer's ids are the odd ones (this side is the server). */
  readonly #peerIsOdd: boolean;

  constructor(role: "client" | "server") {
    this.#next = role === "client" ? 1 : 2;
    this.#peerIsOdd = role === "server";
  }

  /** A new id of this side's parity for a channel or stream it opens. */
  allocate(): number {
    const id = this.#next;
    this.#next += 2;
    if (this.#next > U32_MAX) throw new ProtocolError("EIDS", "channel and stream ids exhausted");
    return id;
  }

  /** True when `id` is one the peer allocates (its parity, not 0). */
  isPeer(id: number): boolean {
    return id !== 0 && (id % 2 === 1) === this.#peerIsOdd;
  }
}
