import { closeAttachments } from "../model/attachments.js";
import { Cancellation } from "../model/cancellation.js";
import { CallAbortedError } from "../model/errors.js";
import type { ChannelState, IncomingRequest } from "./channel-table.js";

/** Where the answers to the peer's requests go (the session). */
export interface AnswerPath {
  /** Requests the peer sent that wait for this side's answer (all channels). */
  pendingRequests: number;
  /** Sends the answer to a request that arrived on `channelId`. */
  answer(channelId: number, requestId: number, ok: boolean, value: unknown): void;
}

/**
 * The answer path of a request that arrived over the wire: settling it sends REPLY or FAIL,
 * and a CANCEL from the requester cancels it (no AbortSignal unless a handler asks for one).
 */
export class WireIncoming implements IncomingRequest {
  #cancellation: Cancellation | undefined;

  constructor(
    private readonly session: AnswerPath,
    private readonly state: ChannelState,
    private readonly channelId: number,
    private readonly requestId: number,
  ) {}

  get cancellation(): Cancellation {
    return (this.#cancellation ??= new Cancellation());
  }

  resolve(value: unknown): void {
    if (this.state.incoming.delete(this.requestId)) {
      this.session.pendingRequests--;
      this.session.answer(this.channelId, this.requestId, true, value);
      return;
    }
    // The requester stopped waiting (CANCEL) or the channel closed: this reply goes nowhere,
    // and what it carries must not wait for the channel (a handler's channel lives as long as
    // its registration: late replies with fds once piled up there).
    closeAttachments(value, new CallAbortedError("channel", "the requester stopped waiting"));
  }

  reject(error: unknown): void {
    if (this.state.incoming.delete(this.requestId)) {
      this.session.pendingRequests--;
      this.session.answer(this.channelId, this.requestId, false, error);
    }
  }

  cancel(reason: unknown): void {
    this.#cancellation?.cancel(reason);
  }
}
