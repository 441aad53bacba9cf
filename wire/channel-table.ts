import type { Channel, ReplySink } from "../model/channel.js";
import type { Queue } from "../model/queue.js";
import type { IdTable } from "./id-table.js";
import type { WireKeep } from "./wire-keep.js";
import type { SessionIds } from "./session-ids.js";

/** An event waiting for credit (PROTOCOL.md "Channel events"): its sender's promise. */
export interface WaitingEvent {
  data: unknown;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A request the peer sent that waits for this side's answer. */
export interface IncomingRequest extends ReplySink {
  /** The requester stopped waiting, or the channel closed. */
  cancel(reason: unknown): void;
}

/** Per-channel state: the local end that speaks frames, and its requests in flight. */
export interface ChannelState {
  end: Channel;
  /** Requests we sent on this channel, by request id. */
  outgoing: IdTable<ReplySink>;
  /** Requests we received and have not answered, by request id. */
  incoming: IdTable<IncomingRequest>;
  /** Events we may still send before the peer grants more (Infinity: it grants none). */
  sendCredit: number;
  /** Events the peer may still send us (Infinity: we do not count, it does not wait). */
  receiveCredit: number;
  /** Events our side consumed and has not yet returned as credit. */
  consumed: number;
  /** Sends waiting for credit, oldest first. */
  waiting: Queue<WaitingEvent> | undefined;
  /** What of the requests arriving here stays encoded (the local end's `Channel.keepOnWire`). */
  keep?: WireKeep | undefined;
}

/**
 * The channels open on a session, by id, with how many each side opened (the peer's count is
 * what `maxChannels` bounds, this side's what the peer's HELLO bounds).
 */
export class ChannelTable {
  readonly #channels = new Map<number, ChannelState>();
  /** The root channel's state while it is open: nearly every frame is on it, so no lookup. */
  #root: ChannelState | undefined;
  /** Channels open now that the peer opened, and that this side opened (the root is neither). */
  peerCount = 0;
  ownCount = 0;

  constructor(private readonly ids: SessionIds) {}

  get size(): number {
    return this.#channels.size;
  }

  get(id: number): ChannelState | undefined {
    return id === 0 ? this.#root : this.#channels.get(id);
  }

  add(id: number, state: ChannelState): void {
    this.#channels.set(id, state);
    if (id === 0) this.#root = state;
    else if (this.ids.isPeer(id)) this.peerCount++;
    else this.ownCount++;
  }

  /** Removes channel `id`; returns whether it was open. */
  forget(id: number): boolean {
    if (!this.#channels.delete(id)) return false;
    if (id === 0) this.#root = undefined;
    else if (this.ids.isPeer(id)) this.peerCount--;
    else this.ownCount--;
    return true;
  }

  /** Empties the table; returns what it held. */
  takeAll(): ChannelState[] {
    const all = [...this.#channels.values()];
    this.#channels.clear();
    this.#root = undefined;
    this.peerCount = this.ownCount = 0;
    return all;
  }
}

/** Fails the sends waiting for credit on a channel that closed. */
export function failWaiting(state: ChannelState, error: Error): void {
  const waiting = state.waiting;
  if (waiting === undefined) return;
  state.waiting = undefined;
  for (const event of waiting.drain()) event.reject(error);
}
