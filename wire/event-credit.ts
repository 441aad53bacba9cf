import { ClosedError } from "../model/errors.js";
import { Queue } from "../model/queue.js";
import type { ChannelState, ChannelTable } from "./channel-table.js";
import { ProtocolError } from "./errors.js";
import { encodeU32, FrameType } from "./frame.js";
import type { MemoryBudget } from "./memory-budget.js";

/** What event credit needs from its session. */
export interface EventWire {
  isClosed(): boolean;
  /** Why the session ended, once it did. */
  failure(): Error | undefined;
  readonly channels: ChannelTable;
  /** Encodes and queues an EVENT (throws what encoding throws). */
  sendEvent(id: number, data: unknown): void;
  queueFrame(type: number, id: number, payload: Uint8Array): void;
}

/**
 * Event flow control per channel and direction (PROTOCOL.md "Channel events"), counted only
 * when the peer announced an `eventWindow`: a sender spends one credit per EVENT and waits
 * (its `send()` promise) with none left; a receiver returns credit with a WINDOW on the
 * channel's id, half a window at a time, as its application takes events.
 */
export class EventCredit {
  /** Whether the peer counts event credit (it announced `eventWindow`). */
  #counted = false;
  /** The peer's window: the credit this side starts each channel with. */
  #peerWindow = 0;
  /** Consumed events returned in one WINDOW: half our window. */
  readonly #batch: number;

  constructor(
    private readonly wire: EventWire,
    /** This side's `eventWindow`. */
    private readonly window: number,
    private readonly budget: MemoryBudget,
  ) {
    this.#batch = Math.max(1, window >>> 1);
  }

  /** The peer's HELLO announced `peerWindow` (undefined: a peer that counts no credit). */
  agreed(peerWindow: number | undefined, root: ChannelState | undefined): void {
    if (peerWindow === undefined) return;
    this.#counted = true;
    this.#peerWindow = peerWindow;
    if (root !== undefined) {
      root.sendCredit = peerWindow;
      root.receiveCredit = this.window;
    }
  }

  /** Credit a new channel starts with, this side sending. */
  get initialSendCredit(): number {
    return this.#counted ? this.#peerWindow : Infinity;
  }

  /** Credit a new channel starts with, the peer sending. */
  get initialReceiveCredit(): number {
    return this.#counted ? this.window : Infinity;
  }

  /** An EVENT arrived on channel `id`: beyond its credit is a protocol error. */
  received(state: ChannelState, id: number): void {
    if (--state.receiveCredit < 0) {
      throw new ProtocolError(
        "EFLOW_CONTROL",
        `channel ${id}: the peer sent an event beyond the ${this.window} events of credit`,
      );
    }
  }

  /** An event of `size` bytes left the receiver's queue: return credit, half a window at a time. */
  consumed(state: ChannelState, id: number, size: number): void {
    this.budget.add(-size);
    if (!this.#counted || this.wire.isClosed() || this.wire.channels.get(id) !== state) return;
    if (++state.consumed < this.#batch) return;
    state.receiveCredit += state.consumed;
    this.wire.queueFrame(FrameType.WINDOW, id, encodeU32(state.consumed));
    state.consumed = 0;
  }

  /** The peer granted `increment` events on channel `id`: send what waited for them. */
  granted(state: ChannelState, id: number, increment: number): void {
    state.sendCredit += increment;
    const waiting = state.waiting;
    if (waiting === undefined) return;
    while (state.sendCredit > 0 && waiting.length > 0) {
      const event = waiting.shift()!;
      try {
        this.wire.sendEvent(id, event.data);
        state.sendCredit--;
        event.resolve();
      } catch (error) {
        event.reject(error);
      }
    }
    if (waiting.length === 0) state.waiting = undefined;
  }

  /** Sends an event, or queues it until the peer grants credit (its sender's promise waits). */
  send(state: ChannelState, id: number, data: unknown): Promise<void> | undefined {
    if (state.sendCredit > 0 && state.waiting === undefined) {
      try {
        this.wire.sendEvent(id, data);
      } catch (error) {
        return Promise.reject(error);
      }
      state.sendCredit--;
      return undefined;
    }
    if (this.wire.isClosed()) return Promise.reject(new ClosedError("session", this.wire.failure()));
    return new Promise((resolve, reject) => {
      (state.waiting ??= new Queue()).push({ data, resolve, reject });
    });
  }
}
