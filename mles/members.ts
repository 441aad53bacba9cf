import { MlesChannelFullError, MlesDuplicateError } from "./errors.js";

/**
 * Who is a member of which channel right now: Mles's rule that one (uid, channel) pair is one
 * connection (a second is refused, the first untouched), and a cap on members per channel.
 * Mles keys a member by the hash of (uid, channel, auth); beamhub by (uid, channel): the same
 * uid cannot be two members of one channel by varying `auth`.
 */
export class MemberTable<Member> {
  readonly #channels = new Map<string, Map<string, Member>>();
  readonly #maxPerChannel: number;

  constructor(maxPerChannel: number) {
    this.#maxPerChannel = maxPerChannel;
  }

  /**
   * Makes `member` the (uid, channel) member, and returns a function that removes it again.
   * @throws {MlesDuplicateError} when the pair is taken; {@link MlesChannelFullError} at the cap.
   */
  admit(uid: string, channel: string, member: Member): () => void {
    let members = this.#channels.get(channel);
    if (members?.has(uid) === true) throw new MlesDuplicateError(uid, channel);
    if ((members?.size ?? 0) >= this.#maxPerChannel)
      throw new MlesChannelFullError(channel, this.#maxPerChannel);
    if (members === undefined) {
      members = new Map();
      this.#channels.set(channel, members);
    }
    members.set(uid, member);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const current = this.#channels.get(channel);
      if (current?.get(uid) !== member) return;
      current.delete(uid);
      if (current.size === 0) this.#channels.delete(channel);
    };
  }

  /** Members of `channel` now. */
  count(channel: string): number {
    return this.#channels.get(channel)?.size ?? 0;
  }

  /** Members of every channel now. */
  get size(): number {
    let total = 0;
    for (const members of this.#channels.values()) total += members.size;
    return total;
  }

  /** Every member now (to close them all). */
  all(): Member[] {
    return [...this.#channels.values()].flatMap((members) => [...members.values()]);
  }
}
