import type { Codec } from "../codecs/reference.js";
import { CallAbortedError, ClosedError, InvalidMessageError } from "../model/errors.js";
import { Channel } from "../model/channel.js";
import { BatchedWriter } from "./batched-writer.js";
import type { ByteTransport } from "./byte-transport.js";
import { ChannelTable, failWaiting, type ChannelState } from "./channel-table.js";
import { verifyConfig, type ConnectionConfig, type ConnectionOptions } from "./config.js";
import { SendBacklogWait } from "./send-backlog.js";
import { Congestion } from "./congestion.js";
import { describeError, rebuildError, type WireError } from "./error-info.js";
import { ConnectionLostError, LimitExceededError, ProtocolError, SlowConsumerError } from "./errors.js";
import { EventCredit } from "./event-credit.js";
import { EncodedOnce } from "./encoded-once.js";
import {
  EMPTY,
  encodeU32,
  frameTypeName,
  FrameDecoder,
  FrameType,
  payloadView,
  readU32,
  requestIdOf,
  type FrameSink,
  type FrameTypeCode,
} from "./frame.js";
import { agreeOnCodec, ownHello } from "./handshake.js";
import { decodeHello, type Hello } from "./hello.js";
import { IdTable } from "./id-table.js";
import { MessageDecoder } from "./message-decoder.js";
import type { WireKeep } from "./wire-keep.js";
import { MessageEncoder, type DescriptorMode } from "./message-encoder.js";
import { ReceivedFds } from "./received-fds.js";
import { SessionIds } from "./session-ids.js";
import { StreamProxy, type StreamWire } from "./stream-proxy.js";
import { StreamTable } from "./stream-table.js";
import { WireIncoming } from "./wire-incoming.js";

// Re-exported: transports, the hub's remote face and tests import these from here.
export type { ByteTransport, TransportHandlers } from "./byte-transport.js";
export type { ConnectionOptions, DescriptorCodec } from "./config.js";

/** What a session carried so far, both ways (the counts of frames include HELLO, PING, ...). */
export interface WireTraffic {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  /** File descriptors received (on a Unix socket with fd passing). */
  fdsIn: number;
  /** File descriptors sent. */
  fdsOut: number;
}

/** `MessageDecoder.decode`'s `keep` for a whole body. */
const KEEP_WHOLE: WireKeep = {};

/** A request body above this size is refused while the memory budget is exhausted. */
const LARGE_MESSAGE = 64 * 1024;
/**
 * The largest GOAWAY payload sent: the least `maxFrameSize` a peer may announce, so a GOAWAY is
 * readable whatever the peer announced (and before its HELLO arrived).
 */
const MAX_GOAWAY = 1024;
/** How much of an error's message a FAIL, CLOSE or RESET reason keeps when the whole is too large. */
const TRIMMED_MESSAGE = 256;

/**
 * One end of a beamhub session over a byte connection: it turns the message model — channels,
 * requests and replies, byte streams, file descriptors — into the frames of PROTOCOL.md and
 * back. Channel 0 (`root`) exists from the start; everything else is created by references in
 * messages. This class is the dispatcher that composes the pieces: the handshake
 * (`handshake.ts`), the channel and stream tables, received fds (`received-fds.ts`), reference
 * encoding and decoding (`message-encoder.ts`, `message-decoder.ts`), event credit, the batched
 * writer and the watch on a peer that does not read (`congestion.ts`).
 */
export class WireConnection {
  /** The session's root channel (id 0): the hub protocol runs on it. */
  readonly root: Channel;
  /** Resolves when both HELLOs were exchanged (rejects if the handshake fails). */
  readonly ready: Promise<void>;
  /** Resolves when the connection is gone, with the reason if it failed. */
  readonly closed: Promise<Error | undefined>;
  /**
   * Resolves once the session is closed and its transport is done with what was written before:
   * every byte (the last stream data, END and GOAWAY included) has left this process — or was
   * dropped, because the connection failed or the peer stopped reading (the Unix transport gives
   * a peer that takes nothing `CLOSE_STALL_MS`, 10 s). A process that awaits it after `close()`
   * may exit at once without losing what it sent. Never rejects.
   */
  readonly finished: Promise<void>;
  /** The codec both sides agreed on (after `ready`). */
  codec!: Codec;
  /** What the peer announced (after `ready`). */
  peerHello!: Hello;
  /** @internal Requests the peer sent that wait for our answer (all channels). */
  pendingRequests = 0;
  /**
   * @internal Requests on the root channel keep the value of this top-level key as the bytes it
   * came in, where the codec can (`Codec.decodeKeeping`): the hub routes a call's `data` on
   * unread. Undefined: decoded as usual.
   */
  keepOnRoot: WireKeep | undefined;

  readonly #transport: ByteTransport;
  readonly #options: ConnectionConfig;
  readonly #decoder: FrameDecoder;
  readonly #channels: ChannelTable;
  readonly #streams: StreamTable;
  readonly #fds: ReceivedFds;
  readonly #congestion: Congestion;
  readonly #writer: BatchedWriter;
  readonly #encoder: MessageEncoder;
  readonly #messages: MessageDecoder;
  readonly #credit: EventCredit;
  #nextRequestId = 1;
  // Traffic counters, for the hub's session view and metrics: plain increments, read on demand.
  #bytesIn = 0;
  #framesIn = 0;
  #fdsIn = 0;
  #failure: Error | undefined;
  #isClosed = false;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #resolveClosed!: (error: Error | undefined) => void;
  #resolveFinished!: () => void;

  constructor(transport: ByteTransport, options: ConnectionOptions) {
    const config = (this.#options = verifyConfig(options));
    this.#transport = transport;
    this.#streamWire.maxData = config.maxDataFrame;
    // Bulk DATA is passed on in the pieces it arrives in rather than joined: nothing changes on
    // the wire, and a 64 KiB frame spanning socket reads is not copied.
    this.#decoder = new FrameDecoder(config.maxFrameSize, { splitData: true });
    const ids = new SessionIds(config.role);
    this.#channels = new ChannelTable(ids);
    this.#streams = new StreamTable(ids, config.memoryBudget);
    const fds = transport.supportsFds && config.descriptors !== undefined;
    this.#fds = new ReceivedFds(config.descriptors, config.maxPendingFds, fds);
    this.#congestion = new Congestion(transport, config, (reason) => this.#slowConsumer(reason));
    this.#writer = new BatchedWriter(transport, this.#congestion);
    // What the pieces (encoder, decoder, event credit) use of this session.
    const session = {
      ids,
      channels: this.#channels,
      streams: this.#streams,
      fds: this.#fds,
      isClosed: () => this.#isClosed,
      failure: () => this.#failure,
      openChannel: (id: number) => this.#openChannel(id),
      openStream: (id: number) => this.#openStream(id),
      queueFrame: (type: number, id: number, payload: Uint8Array) => this.#queueFrame(type, id, payload),
      sendEvent: (id: number, data: unknown) => this.#sendMessage(FrameType.EVENT, id, data),
    };
    this.#encoder = new MessageEncoder(session, this.#writer.outbox, config.descriptors);
    this.#messages = new MessageDecoder(session, config);
    this.#credit = new EventCredit(session, config.eventWindow, config.memoryBudget);
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
    this.root = this.#openChannel(0).end;
    transport.start({
      data: (chunk, fds) => this.#receive(chunk, fds),
      closed: (error) => this.#lost(error ?? new ConnectionLostError("the peer closed the connection")),
      drain: () => this.#congestion.drained(this.#isClosed),
    });
    this.#queueFrame(FrameType.HELLO, 0, ownHello(config, fds));
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Counts of live channels and streams, and of the flow control state, for tests and metrics. */
  get stats(): {
    channels: number;
    streams: number;
    pendingFds: number;
    /** Bytes written to the transport and not yet taken by the OS. */
    unsentBytes: number;
    /** Whether reading from the peer is paused because it does not read what we send. */
    readingPaused: boolean;
  } & WireTraffic {
    const sent = this.#writer.sent;
    return {
      bytesIn: this.#bytesIn,
      bytesOut: sent.bytes,
      framesIn: this.#framesIn,
      framesOut: sent.frames,
      fdsIn: this.#fdsIn,
      fdsOut: sent.fds,
      channels: this.#channels.size,
      streams: this.#streams.size,
      pendingFds: this.#fds.pending,
      unsentBytes: this.#writer.unsentBytes,
      readingPaused: this.#congestion.readingPaused,
    };
  }

  /** Ends the session cleanly: GOAWAY, then the connection closes; everything open fails. */
  close(reason = "closed by this side"): void {
    if (this.#isClosed) return;
    this.#sendGoaway("ENORMAL", reason);
    this.#shutDown(new ConnectionLostError(`session closed: ${reason}`));
    this.#closeTransport();
  }

  /**
   * Closes the session once its byte streams have sent what was written into them before: the
   * last bytes of streams whose writer finished (a stream written through a pipe or a splice,
   * whose writer was told "closed" already) that wait for the peer's credit go first, END
   * included, for as long as the peer takes some of them within every `CLOSE_STALL_MS` (10 s).
   * Streams still being written are cut as by `close`. Then as `close(reason)`, and resolves
   * with `finished`: what was written has left this process.
   */
  async closeWhenSent(reason?: string): Promise<void> {
    if (!this.#isClosed && this.#streams.owedBytes() > 0) {
      this.#sending ??= new SendBacklogWait(() => (this.#isClosed ? 0 : this.#streams.owedBytes()));
      await this.#sending.done;
    }
    this.close(reason);
    await this.finished;
  }

  /** While `closeWhenSent` waits: what is left for the streams to send. */
  #sending: SendBacklogWait | undefined;

  /** @internal Sends the answer to a request that arrived on `channelId`. */
  answer(channelId: number, requestId: number, ok: boolean, value: unknown): void {
    if (this.#isClosed) return;
    if (ok) {
      try {
        this.#sendMessage(FrameType.REPLY, channelId, value, requestId);
        return;
      } catch (error) {
        value = error;
      }
    }
    const info = describeError(value);
    try {
      this.#sendMessage(FrameType.FAIL, channelId, info, requestId);
    } catch {
      // Over the peer's frame size (a long message, large details): the error goes out trimmed.
      this.#sendMessage(FrameType.FAIL, channelId, trimmed(info), requestId);
    }
  }

  // ---- receiving ---------------------------------------------------------------------------

  #receive(chunk: Uint8Array, fds: readonly number[]): void {
    if (this.#isClosed) {
      for (const fd of fds) this.#fds.discard(fd);
      return;
    }
    this.#congestion.beforeReceive();
    this.#bytesIn += chunk.byteLength;
    try {
      if (fds.length > 0) {
        this.#fdsIn += fds.length;
        this.#fds.receive(fds);
      }
      this.#decoder.feed(chunk, this.#frameSink);
    } catch (error) {
      this.#protocolFailure(error);
    }
  }

  readonly #frameSink: FrameSink = {
    onFrame: (type, fdCount, id, bytes, start, end) => this.#dispatch(type, fdCount, id, bytes, start, end),
  };

  #dispatch(
    type: FrameTypeCode,
    fdCount: number,
    id: number,
    bytes: Uint8Array,
    start: number,
    end: number,
  ): void {
    this.#framesIn++;
    if (this.peerHello === undefined && type !== FrameType.HELLO) {
      throw new ProtocolError("EHELLO", `expected HELLO first, got ${frameTypeName(type)}`);
    }
    if (fdCount === 0) {
      this.#handle(type, id, bytes, start, end);
      return;
    }
    this.#fds.beginFrame(type, fdCount);
    try {
      this.#handle(type, id, bytes, start, end);
    } finally {
      this.#fds.endFrame();
    }
  }

  /**
   * One frame. Frames on an id that is not open are expected — they may have crossed its CLOSE
   * or RESET — and each type has one answer to them (PROTOCOL.md "Frames"): a REQUEST is
   * answered FAIL `ECLOSED`; what an EVENT, REPLY or FAIL carries is closed; the rest are
   * ignored. A frame of one kind on an open id of the other kind (DATA on a channel, an EVENT
   * on a stream) cannot be a crossing, since channels and streams share one id space: it is a
   * protocol error (`EID_KIND`).
   */
  #handle(type: FrameTypeCode, id: number, bytes: Uint8Array, start: number, end: number): void {
    switch (type) {
      case FrameType.REQUEST:
        return this.#onRequest(id, bytes, start, end);
      case FrameType.REPLY:
      case FrameType.FAIL:
        return this.#onAnswer(type, id, bytes, start, end);
      case FrameType.EVENT:
        return this.#onEvent(id, bytes, start, end);
      case FrameType.DATA: {
        const stream = this.#streams.get(id);
        if (stream === undefined) return this.#notAChannel(type, id);
        stream.onData(payloadView(bytes, start, end));
        // Counted until returned as credit (WINDOW) or the stream is forgotten.
        this.#options.memoryBudget.add(end - start);
        return;
      }
      case FrameType.HELLO:
        this.#sessionFrame(type, id);
        return this.#onHello(payloadView(bytes, start, end));
      case FrameType.GOAWAY:
        this.#sessionFrame(type, id);
        return this.#onGoaway(payloadView(bytes, start, end));
      case FrameType.PING:
        this.#sessionFrame(type, id);
        return this.#queueFrame(FrameType.PONG, 0, payloadView(bytes, start, end));
      case FrameType.PONG:
        return this.#sessionFrame(type, id);
      case FrameType.CANCEL: {
        const requestId = requestIdOf(type, bytes, start, end);
        const state = this.#channels.get(id);
        if (state === undefined) return this.#notAStream(type, id);
        const incoming = state.incoming.get(requestId);
        if (state.incoming.delete(requestId)) this.pendingRequests--;
        incoming?.cancel(new CallAbortedError("channel", "the requester stopped waiting"));
        return;
      }
      case FrameType.CLOSE: {
        // CLOSE on channel 0 closes the root channel like any other; the session stays until GOAWAY.
        const state = this.#channels.get(id);
        if (state === undefined) return this.#notAStream(type, id);
        this.#channels.forget(id);
        const reason = end > start ? this.#decodeReason(bytes, start, end) : undefined;
        for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
        failWaiting(state, new ClosedError("channel", reason));
        state.end.peerClosed(reason);
        return;
      }
      case FrameType.WINDOW: {
        if (end - start !== 4) throw new ProtocolError("EFRAME", "WINDOW payload must be 4 bytes");
        const increment = readU32(bytes, start);
        const stream = this.#streams.get(id);
        if (stream !== undefined) {
          stream.onWindow(increment);
          return this.#sending?.check();
        }
        // Channels and streams share the id space: a WINDOW on a channel's id is event credit.
        const state = this.#channels.get(id);
        if (state !== undefined) this.#credit.granted(state, id, increment);
        return;
      }
      case FrameType.END: {
        const stream = this.#streams.get(id);
        if (stream === undefined) return this.#notAChannel(type, id);
        stream.onEnd();
        return;
      }
      case FrameType.RESET: {
        const stream = this.#streams.get(id);
        if (stream === undefined) return this.#notAChannel(type, id);
        stream.onReset(end > start ? this.#decodeReason(bytes, start, end) : undefined);
        return;
      }
    }
  }

  /** HELLO, GOAWAY, PING and PONG belong to the session: their id is 0. */
  #sessionFrame(type: FrameTypeCode, id: number): void {
    if (id !== 0) throw new ProtocolError("EFRAME", `${frameTypeName(type)} on id ${id}: its id must be 0`);
  }

  /** A stream frame on an id that is no open stream: fine unless the id is an open channel. */
  #notAChannel(type: FrameTypeCode, id: number): void {
    if (this.#channels.get(id) !== undefined) {
      throw new ProtocolError(
        "EID_KIND",
        `${frameTypeName(type)} frame on channel ${id}, which is not a byte stream`,
      );
    }
  }

  /** A channel frame on an id that is no open channel: fine unless the id is an open stream. */
  #notAStream(type: FrameTypeCode, id: number): void {
    if (this.#streams.get(id) !== undefined) {
      throw new ProtocolError(
        "EID_KIND",
        `${frameTypeName(type)} frame on byte stream ${id}, which is not a channel`,
      );
    }
  }

  #decodeReason(bytes: Uint8Array, start: number, end: number): Error {
    return rebuildError(this.#messages.decode(bytes, start, end) as WireError);
  }

  #onHello(payload: Uint8Array): void {
    if (this.peerHello !== undefined) throw new ProtocolError("EHELLO", "a second HELLO");
    const hello = decodeHello(payload);
    const codec = agreeOnCodec(this.#options.role, this.#options.codecs, hello);
    this.codec = this.#encoder.codec = this.#messages.codec = codec;
    this.peerHello = hello;
    this.#encoder.peerHello = hello;
    this.#encoder.descriptorMode = this.#descriptorMode(hello);
    // DATA frames are cut to what we chose and the peer accepts.
    this.#streamWire.maxData = Math.min(this.#options.maxDataFrame, hello.maxFrameSize);
    // Only a peer that announced an event window counts credit (a peer of before it did not).
    this.#credit.agreed(hello.eventWindow, this.#channels.get(0));
    this.#resolveReady();
  }

  /** How descriptors travel on this session (see `ByteTransport.withoutFds`). */
  #descriptorMode(hello: Hello): DescriptorMode {
    const transport = this.#transport;
    if (this.#options.descriptors !== undefined && hello.fds && transport.supportsFds) return "fds";
    return transport.withoutFds ?? (transport.supportsFds ? "refuse" : "convert");
  }

  #onGoaway(payload: Uint8Array): void {
    let info: { code?: string; message?: string } = {};
    try {
      info = JSON.parse(new TextDecoder().decode(payload)) as typeof info;
    } catch {
      // a GOAWAY we cannot read still ends the session
    }
    const error =
      info.code === "ENORMAL"
        ? new ConnectionLostError(`the peer closed the session: ${info.message ?? ""}`)
        : info.code === "ESLOW_CONSUMER"
          ? new SlowConsumerError(`the peer closed the session: ${info.message ?? "(no reason)"}`)
          : new ProtocolError(
              info.code ?? "EPROTOCOL",
              `the peer ended the session: ${info.message ?? "(no reason)"}`,
            );
    this.#shutDown(error);
    this.#closeTransport();
  }

  #onRequest(id: number, bytes: Uint8Array, start: number, end: number): void {
    const requestId = requestIdOf(FrameType.REQUEST, bytes, start, end);
    const messages = this.#messages;
    const state = this.#channels.get(id);
    const data = messages.decode(bytes, start + 4, end, id === 0 ? this.keepOnRoot : state?.keep);
    if (state === undefined) this.#notAStream(FrameType.REQUEST, id);
    let refusal = messages.takeRefusal();
    if (refusal === undefined && this.pendingRequests >= this.#options.maxPendingRequests) {
      refusal = new LimitExceededError(
        "maxPendingRequests",
        `request refused: the peer may have at most ${this.#options.maxPendingRequests} requests waiting for an answer`,
      );
    } else if (
      refusal === undefined &&
      end - start > LARGE_MESSAGE &&
      this.#options.memoryBudget.wouldExceed()
    ) {
      refusal = new LimitExceededError(
        "memoryBudget",
        `a request of ${end - start} bytes was refused: the hub's budget of ${this.#options.memoryBudget.limit} buffered bytes is used up`,
      );
    }
    if (!messages.keepAttachments(state, data, refusal)) {
      // The channel closed while the request was in flight, or the request was over a limit:
      // answer so the requester stops (the session goes on).
      if (!this.#isClosed) {
        const error = refusal ?? new ClosedError("channel");
        this.#sendMessage(FrameType.FAIL, id, describeError(error), requestId);
      }
      return;
    }
    const sink = new WireIncoming(this, state, id, requestId);
    state.incoming.set(requestId, sink);
    this.pendingRequests++;
    state.end.deliverRequest(data, sink);
  }

  #onAnswer(type: FrameTypeCode, id: number, bytes: Uint8Array, start: number, end: number): void {
    const requestId = requestIdOf(type, bytes, start, end);
    const state = this.#channels.get(id);
    const sink = state?.outgoing.get(requestId);
    const messages = this.#messages;
    if (sink === undefined) {
      if (state === undefined) this.#notAStream(type, id);
      // Cancelled, timed out, or its channel closed meanwhile: what the answer carries is
      // closed (the peer's ends of its channels and streams learn it at once).
      const value = messages.decode(bytes, start + 4, end);
      messages.keepAttachments(undefined, value, messages.takeRefusal());
      return;
    }
    state!.outgoing.delete(requestId);
    // A reply the requester passes on unread (the hub routing a call) may stay as its bytes.
    const value = messages.decode(
      bytes,
      start + 4,
      end,
      type === FrameType.REPLY && sink.keepEncoded === true ? KEEP_WHOLE : undefined,
    );
    const refusal = messages.takeRefusal();
    if (refusal !== undefined) sink.reject(refusal);
    else if (!messages.keepAttachments(state, value)) return;
    else if (type === FrameType.REPLY) sink.resolve(value);
    else sink.reject(rebuildError(value as WireError));
  }

  #onEvent(id: number, bytes: Uint8Array, start: number, end: number): void {
    const state = this.#channels.get(id);
    const messages = this.#messages;
    const data = messages.decode(bytes, start, end);
    if (state === undefined) {
      this.#notAStream(FrameType.EVENT, id);
      // The channel closed while the event was in flight: what it carried is closed with it.
      messages.keepAttachments(state, data, messages.takeRefusal());
      return;
    }
    this.#credit.received(state, id);
    const size = end - start;
    if (messages.takeRefusal() !== undefined) {
      // Its channels and streams were refused (closed, reset); the event itself is dropped.
      this.#credit.consumed(state, id, 0);
      return;
    }
    messages.keepAttachments(state, data);
    this.#options.memoryBudget.add(size);
    const full = state.end.deliverEvent(data);
    // Credit goes back once the event is taken, or at once while the receiver has room.
    if (full === undefined) this.#credit.consumed(state, id, size);
    else void full.then(() => this.#credit.consumed(state, id, size));
  }

  // ---- channels and streams ----------------------------------------------------------------

  #openChannel(id: number): ChannelState {
    const credit = this.#credit;
    const state: ChannelState = {
      end: undefined!,
      outgoing: new IdTable(),
      incoming: new IdTable(),
      sendCredit: credit.initialSendCredit,
      receiveCredit: credit.initialReceiveCredit,
      consumed: 0,
      waiting: undefined,
    };
    const options = { highWaterMark: this.#options.eventWindow };
    state.end = new Channel(
      {
        event: (data) => credit.send(state, id, data),
        request: (data, sink) => {
          if (this.#isClosed) {
            sink.reject(new ClosedError("channel", this.#failure));
            return;
          }
          const requestId = this.#nextRequestId++;
          if (this.#nextRequestId > 0xffffffff) this.#nextRequestId = 1;
          try {
            this.#sendMessage(FrameType.REQUEST, id, data, requestId);
          } catch (error) {
            sink.reject(error);
            return;
          }
          sink.linkId = requestId;
          state.outgoing.set(requestId, sink);
        },
        cancel: (sink) => {
          const requestId = sink.linkId;
          if (requestId !== undefined && state.outgoing.delete(requestId) && !this.#isClosed) {
            this.#writer.outbox.message(FrameType.CANCEL, id, requestId, EMPTY, 0, 0, 0);
            this.#writer.queued();
          }
        },
        close: (reason) => {
          if (this.#channels.get(id) !== state) return;
          this.#channels.forget(id);
          for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
          failWaiting(state, new ClosedError("channel", reason));
          if (!this.#isClosed) {
            this.#queueFrame(FrameType.CLOSE, id, reason === undefined ? EMPTY : this.#encodeReason(reason));
          }
        },
      },
      options,
    );
    this.#channels.add(id, state);
    return state;
  }

  readonly #streamWire: StreamWire & { maxData: number } = {
    maxData: 0, // set from the options, then capped by the peer's maxFrameSize
    sendData: (id, chunk) => {
      if (this.#isClosed) return;
      // Header and bytes go out as two chunks of one writev: stream bytes are never copied.
      this.#writer.outbox.data(id, chunk);
      this.#writer.queued();
    },
    sendWindow: (id, increment) => {
      this.#options.memoryBudget.add(-increment);
      this.#queueFrame(FrameType.WINDOW, id, encodeU32(increment));
    },
    sendEnd: (id) => {
      this.#queueFrame(FrameType.END, id);
    },
    sendReset: (id, reason) => {
      if (!this.#isClosed) this.#queueFrame(FrameType.RESET, id, this.#encodeReason(reason));
    },
    forget: (id) => this.#streams.forget(id),
  };

  #openStream(id: number): StreamProxy {
    const proxy = new StreamProxy(
      id,
      this.#streamWire,
      this.peerHello.streamWindow,
      this.#options.streamWindow,
    );
    this.#streams.add(proxy);
    return proxy;
  }

  // ---- sending -----------------------------------------------------------------------------

  /**
   * Encodes message data and queues the frame. References are resolved while encoding; the
   * splices that feed them start only after the frame is queued, so the peer always learns
   * about a channel or stream before the first frame that uses it.
   */
  #sendMessage(type: number, id: number, data: unknown, requestId = -1): void {
    if (this.#isClosed) throw new ClosedError("session", this.#failure);
    const outbox = this.#writer.outbox;
    const encoder = this.#encoder;
    // The body is encoded straight into the outgoing batch, after room for the frame header;
    // bytes encoded once for many sessions are copied in (no room to make: -1).
    const bodyAt = data instanceof EncodedOnce ? -1 : outbox.beginMessage(requestId === -1 ? 0 : 4);
    const body = encoder.encode(data, bodyAt);
    const size = body.end - body.start + (requestId === -1 ? 0 : 4);
    const limit = this.peerHello.maxFrameSize;
    if (size > limit) {
      encoder.undo();
      throw new InvalidMessageError(
        `message of ${size} bytes exceeds the peer's frame size limit of ${limit} bytes`,
      );
    }
    const attaching = encoder.take();
    const fdCount = attaching === undefined ? 0 : attaching.fds.length;
    // fds ride with the first byte of a batch: the frames before this one go out first (the
    // body encoded in place is not part of the batch until it is committed).
    if (fdCount > 0) this.#writer.startBatchWithFds(attaching!.fds);
    if (body.bytes === outbox.slab && body.start === bodyAt) {
      outbox.commitMessage(type, id, requestId, bodyAt, body.end, fdCount);
    } else {
      // It did not fit in the room it was given (or the codec cannot encode in place): the
      // bytes are copied in, before anything else can encode.
      outbox.message(type, id, requestId, body.bytes, body.start, body.end, fdCount);
    }
    this.#writer.queued();
    if (attaching !== undefined) for (const start of attaching.after) start();
  }

  /**
   * A CLOSE or RESET reason: the error, encoded, trimmed if the whole would exceed the peer's
   * frame size (the peer would end the session over a frame above its limit).
   */
  #encodeReason(reason: unknown): Uint8Array {
    const info = describeError(reason);
    const body = this.codec.encode(info);
    return body.byteLength <= this.peerHello.maxFrameSize ? body : this.codec.encode(trimmed(info));
  }

  /** Queues a frame without message data (its payload is copied). */
  #queueFrame(type: number, id: number, payload: Uint8Array = EMPTY): void {
    if (this.#isClosed) return;
    this.#writer.outbox.frame(type, id, payload);
    this.#writer.queued();
  }

  /** Queues GOAWAY and writes it now; its message is cut to fit `MAX_GOAWAY`. */
  #sendGoaway(code: string, message: string): void {
    const encoder = new TextEncoder();
    let payload = encoder.encode(JSON.stringify({ code, message }));
    if (payload.byteLength > MAX_GOAWAY) {
      payload = encoder.encode(JSON.stringify({ code, message: `${message.slice(0, TRIMMED_MESSAGE)}…` }));
    }
    this.#queueFrame(FrameType.GOAWAY, 0, payload);
    this.#writer.flush();
  }

  // ---- failure -----------------------------------------------------------------------------

  /** Closes a session whose peer does not read: GOAWAY ESLOW_CONSUMER, then the connection is dropped. */
  #slowConsumer(reason: string): void {
    // Once: the GOAWAY below is written past the limit too.
    if (this.#isClosed || this.#droppingSlowPeer) return;
    this.#droppingSlowPeer = true;
    this.#sendGoaway("ESLOW_CONSUMER", reason);
    this.#shutDown(new SlowConsumerError(`session closed: ${reason}`));
    // What is queued will not be read: drop it rather than wait for it.
    if (this.#transport.abort !== undefined) this.#transport.abort();
    else void this.#transport.close();
    this.#resolveFinished();
  }

  #droppingSlowPeer = false;

  #protocolFailure(error: unknown): void {
    const failure =
      error instanceof ProtocolError
        ? error
        : new ProtocolError("EPROTOCOL", String((error as Error)?.message ?? error));
    if (!this.#isClosed) this.#sendGoaway(failure.code, failure.message);
    this.#shutDown(failure);
    this.#closeTransport();
  }

  /** Closes the transport after what was written; `finished` follows it. */
  #closeTransport(): void {
    const closing = this.#transport.close();
    if (closing === undefined) this.#resolveFinished();
    else void closing.then(this.#resolveFinished, this.#resolveFinished);
  }

  #lost(error: Error): void {
    // Nothing more leaves a connection that is gone.
    this.#resolveFinished();
    this.#shutDown(
      error instanceof ConnectionLostError ? error : new ConnectionLostError(error.message, error),
    );
  }

  #shutDown(error: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#failure = error;
    this.#rejectReady(error);
    this.#congestion.end();
    for (const state of this.#channels.takeAll()) {
      for (const incoming of state.incoming.values()) incoming.cancel(error);
      failWaiting(state, new ClosedError("channel", error));
      state.end.peerClosed(error);
    }
    for (const stream of this.#streams.takeAll()) stream.connectionLost(error);
    this.#fds.closeAll();
    for (const fd of this.#writer.outbox.clear()) this.#fds.discard(fd);
    this.#resolveClosed(error);
    this.#sending?.check();
  }
}

/** An error cut down to fit any frame a peer accepts: no details, the start of its message. */
function trimmed(info: WireError): WireError {
  const short: WireError = {
    name: info.name.slice(0, 64),
    message:
      info.message.length > TRIMMED_MESSAGE ? `${info.message.slice(0, TRIMMED_MESSAGE)}…` : info.message,
    code: info.code.slice(0, 64),
  };
  if (info.hub === true) short.hub = true;
  if (info.service !== undefined) short.service = info.service.slice(0, 64);
  return short;
}
