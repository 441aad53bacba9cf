import type { Codec, Ref, RefHooks } from "../codecs/reference.js";
import { closeAttachments } from "../model/attachments.js";
import { ClosedError } from "../model/errors.js";
import { FileDescriptor } from "../model/file-descriptor.js";
import type { ChannelState, ChannelTable } from "./channel-table.js";
import type { ConnectionConfig } from "./config.js";
import { describeError } from "./error-info.js";
import { LimitExceededError, ProtocolError } from "./errors.js";
import { EMPTY, FrameType, payloadView } from "./frame.js";
import type { ReceivedFds } from "./received-fds.js";
import type { SessionIds } from "./session-ids.js";
import type { StreamProxy } from "./stream-proxy.js";
import type { StreamTable } from "./stream-table.js";
import type { WireKeep } from "./wire-keep.js";

/** What the decoder needs from its session to open what references name. */
export interface DecoderSession {
  readonly ids: SessionIds;
  readonly channels: ChannelTable;
  readonly streams: StreamTable;
  readonly fds: ReceivedFds;
  isClosed(): boolean;
  /** Opens the state of a channel the peer referenced. */
  openChannel(id: number): ChannelState;
  /** Opens the proxy of a stream the peer referenced. */
  openStream(id: number): StreamProxy;
  /** Queues a frame without message data (a CLOSE or RESET of a refused reference). */
  queueFrame(type: number, id: number, payload: Uint8Array): void;
}

/**
 * Decodes the message bodies a session receives, opening what their references name
 * (PROTOCOL.md "Message bodies"): a channel or stream reference must name a new id of the
 * peer's parity — not one open as either kind, since channels and streams share one id space —
 * and an fd reference one of the frame's fds. A reference over a limit (`maxChannels`,
 * `maxStreams`, the memory budget) does not fail the session: the message is refused
 * (`takeRefusal`) and what it opened is closed with the reason.
 */
export class MessageDecoder {
  /** The session codec (set once the HELLOs agreed on it). */
  codec!: Codec;
  /**
   * Why the message being decoded is refused (a channel or stream over a limit), if it is; the
   * frame's handler answers for it: a request FAILs, a reply rejects, an event is dropped.
   */
  #refusal: LimitExceededError | undefined;
  /** What the message being decoded opened or took: undone if it is refused. */
  readonly #decodedRefs: (Ref | FileDescriptor)[] = [];

  constructor(
    private readonly session: DecoderSession,
    private readonly config: ConnectionConfig,
  ) {}

  /**
   * Decodes the message body `bytes[start, end)`; undecodable is a protocol error (`EDECODE`).
   * With `keep`, a codec that can (`Codec.decodeKeeping`) keeps the values of the top-level keys
   * `keep.fields` — or the whole body, without fields — as the bytes they came in, where they
   * hold no reference: for a hub that only passes them on, a service that reads them on demand.
   */
  decode(bytes: Uint8Array, start: number, end: number, keep?: WireKeep): unknown {
    if (this.#refusal !== undefined) this.#refusal = undefined;
    if (this.#decodedRefs.length > 0) this.#decodedRefs.length = 0;
    try {
      const codec = this.codec;
      if (keep !== undefined && codec.decodeKeeping !== undefined) {
        return codec.decodeKeeping(bytes, start, end, keep.fields, this.#hooks);
      }
      return codec.decodeRegion !== undefined
        ? codec.decodeRegion(bytes, start, end, this.#hooks)
        : codec.decode(payloadView(bytes, start, end), this.#hooks);
    } catch (error) {
      // Descriptors already wrapped for the half-decoded message have no other way to close.
      for (const item of this.#decodedRefs) if (item instanceof FileDescriptor) item.close();
      this.#decodedRefs.length = 0;
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError("EDECODE", `undecodable message: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /**
   * A received message's descriptors belong to the channel they arrived on, as in one process:
   * one nobody takes closes with that channel or with the session (a reply's descriptors that
   * the caller never took once stayed open for good). Channels and streams need no owner here:
   * the session closes all of its own when it ends. On a channel that is gone, or for a message
   * refused (`refusal`), everything the message created is closed at once, with the reason.
   * Returns whether the message is to be delivered. Call after `takeRefusal`.
   */
  keepAttachments(
    state: ChannelState | undefined,
    data: unknown,
    refusal?: LimitExceededError,
  ): state is ChannelState {
    const refs = this.#decodedRefs;
    const deliver = state !== undefined && refusal === undefined;
    if (refs.length === 0) return deliver;
    if (!deliver) closeAttachments(data, refusal ?? new ClosedError("channel"));
    else for (const item of refs) if (item instanceof FileDescriptor) state.end.adopt(item);
    refs.length = 0;
    return deliver;
  }

  /**
   * The refusal of the message just decoded, if any, after undoing what it opened: every
   * channel it carried is closed and every stream reset, with the reason (so the peer's ends
   * fail typed and their ids are done), every fd it carried closed.
   */
  takeRefusal(): LimitExceededError | undefined {
    const refusal = this.#refusal;
    if (refusal === undefined) return undefined;
    this.#refusal = undefined;
    const { channels, streams } = this.session;
    const reason = this.session.isClosed() ? EMPTY : this.codec.encode(describeError(refusal));
    for (const item of this.#decodedRefs) {
      if (item instanceof FileDescriptor) {
        item.close();
        continue;
      }
      if (item.kind === "channel") {
        const state = channels.get(item.id);
        if (state !== undefined) state.end.close(refusal);
        else this.session.queueFrame(FrameType.CLOSE, item.id, reason);
      } else {
        // Reset here without a RESET of its own, then with the refusal as the reason.
        streams.get(item.id)?.onReset(refusal);
        this.session.queueFrame(FrameType.RESET, item.id, reason);
      }
    }
    this.#decodedRefs.length = 0;
    return refusal;
  }

  readonly #hooks: RefHooks = {
    toRef: () => {
      throw new ProtocolError("EDECODE", "unexpected attachment while decoding");
    },
    fromRef: (ref) => this.#resolve(ref),
  };

  #resolve(ref: Ref): unknown {
    const { channels, streams, fds } = this.session;
    const config = this.config;
    switch (ref.kind) {
      case "channel": {
        this.#checkNewId("channel", ref.id);
        const over =
          channels.peerCount >= config.maxChannels
            ? new LimitExceededError(
                "maxChannels",
                `channel ${ref.id} refused: the peer may keep at most ${config.maxChannels} channels open`,
              )
            : this.#overBudget("channel", ref.id);
        this.#decodedRefs.push(ref);
        if (over !== undefined) return this.#refuse(over);
        return this.session.openChannel(ref.id).end;
      }
      case "stream": {
        this.#checkNewId("stream", ref.id);
        const over =
          streams.peerCount >= config.maxStreams
            ? new LimitExceededError(
                "maxStreams",
                `byte stream ${ref.id} refused: the peer may keep at most ${config.maxStreams} streams open`,
              )
            : this.#overBudget("byte stream", ref.id);
        this.#decodedRefs.push(ref);
        if (over !== undefined) return this.#refuse(over);
        return this.session.openStream(ref.id).stream;
      }
      case "fd": {
        const fd = config.descriptors === undefined ? undefined : fds.take(ref.id);
        if (fd === undefined) {
          throw new ProtocolError(
            "EREF",
            `fd reference ${ref.id} but the frame carries ${fds.frameCount} fds (each used once)`,
          );
        }
        const descriptor = config.descriptors!.fromFd(fd);
        this.#decodedRefs.push(descriptor);
        return descriptor;
      }
    }
  }

  /**
   * A channel or stream reference must name a new id of the peer: of its parity (`EREF`), and
   * not one open now, as a channel or as a stream (`EID_IN_USE`): the two share one id space,
   * so a frame on the id could not say which one it meant.
   */
  #checkNewId(kind: "channel" | "stream", id: number): void {
    if (!this.session.ids.isPeer(id)) {
      throw new ProtocolError("EREF", `${kind} reference ${id} is not a new id of the peer`);
    }
    const open =
      this.session.channels.get(id) !== undefined
        ? "a channel"
        : this.session.streams.get(id) !== undefined
          ? "a byte stream"
          : undefined;
    if (open !== undefined) {
      throw new ProtocolError(
        "EID_IN_USE",
        `${kind} reference ${id} names ${open} that is open: channels and byte streams share one id space, and an id is never reused`,
      );
    }
  }

  #overBudget(what: string, id: number): LimitExceededError | undefined {
    const budget = this.config.memoryBudget;
    if (!budget.wouldExceed()) return undefined;
    return new LimitExceededError(
      "memoryBudget",
      `${what} ${id} refused: the budget of ${budget.limit} buffered bytes is used up`,
    );
  }

  /** A reference over a limit: the message is refused (see `takeRefusal`). */
  #refuse(error: LimitExceededError): undefined {
    this.#refusal ??= error;
    return undefined;
  }
}
