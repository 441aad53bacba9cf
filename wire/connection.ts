import { Ref, type Attachable, type Codec, type EncodedRegion, type RefHooks } from "../codecs/reference.js";
import { closeAttachments } from "../model/attachments.js";
import { ByteStream } from "../model/byte-stream.js";
import { Cancellation } from "../model/cancellation.js";
import { Channel, type ReplySink } from "../model/channel.js";
import { CallAbortedError, ClosedError, InvalidMessageError } from "../model/errors.js";
import { FileDescriptor } from "../model/file-descriptor.js";
import { Queue } from "../model/queue.js";
import { verifyConfig, type ConnectionConfig, type ConnectionOptions } from "./config.js";
import { ConnectionLostError, LimitExceededError, ProtocolError, SlowConsumerError } from "./errors.js";
import type { MemoryBudget } from "./memory-budget.js";
import { describeError, rebuildError, type WireError } from "./error-info.js";
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
import { decodeHello, encodeHello, PROTOCOL_NAME, PROTOCOL_VERSION, type Hello } from "./hello.js";
import { IdTable } from "./id-table.js";
import { Outbox } from "./outbox.js";
import {
  checkConvertible,
  CONVERT_DESCRIPTORS,
  replaceDescriptors,
  type ConvertedDescriptor,
} from "./descriptor-stream.js";
import { spliceChannels, spliceStreams } from "./splice.js";
import { StreamProxy, type StreamWire } from "./stream-proxy.js";

export type { ConnectionOptions, DescriptorCodec } from "./config.js";

/**
 * A byte connection the session protocol runs over: a Unix socket (which can carry fds), a TLS
 * stream, a WebSocket. The connection batches frames itself; `write` receives whole batches.
 */
export interface ByteTransport {
  /** Whether file descriptors can travel on this connection. */
  readonly supportsFds: boolean;
  /**
   * Sends `chunks` in order; `fds` travel with the first byte of the batch (ownership passes).
   * Returns false once the bytes written and not yet taken by the OS reached the transport's
   * high-water mark: it then calls `handlers.drain` when they are out. (A transport without
   * backpressure returns nothing.)
   */
  write(chunks: Uint8Array[], fds: number[]): boolean | void;
  /** Starts delivery; called once by the connection. */
  start(handlers: TransportHandlers): void;
  /** Closes the connection after what was written; idempotent. */
  close(): void;
  /** Closes the connection now, dropping what was not sent (optional; else `close`). */
  abort?(): void;
  /** Puts what was written on the wire now rather than at the end of the turn (optional). */
  flush?(): void;
  /** Bytes written and not yet taken by the OS (optional). */
  readonly bufferedBytes?: number;
  /** Stops delivering received bytes until `resume` (optional: the peer's writes back up). */
  pause?(): void;
  resume?(): void;
}

export interface TransportHandlers {
  /** Bytes arrived, with any fds received alongside them (FIFO, see PROTOCOL.md "fds"). */
  data(chunk: Uint8Array, fds: readonly number[]): void;
  /** The connection closed (with the reason, if it failed). */
  closed(error?: Error): void;
  /** What was written after `write` returned false has been taken by the OS. */
  drain?(): void;
}

/** An event waiting for credit (PROTOCOL.md "Channel events"): its sender's promise. */
interface WaitingEvent {
  data: unknown;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Per-channel state: the local end that speaks frames, and its requests in flight. */
interface ChannelState {
  end: Channel;
  /** Requests we sent on this channel, by request id. */
  outgoing: IdTable<ReplySink>;
  /** Requests we received and have not answered, by request id. */
  incoming: IdTable<WireIncoming>;
  /** Events we may still send before the peer grants more (Infinity: it grants none). */
  sendCredit: number;
  /** Events the peer may still send us (Infinity: we do not count, it does not wait). */
  receiveCredit: number;
  /** Events our side consumed and has not yet returned as credit. */
  consumed: number;
  /** Sends waiting for credit, oldest first. */
  waiting: Queue<WaitingEvent> | undefined;
}

/**
 * Frames queued before the first batch of a turn of the event loop is written without waiting
 * for the end of the turn; each further batch in the same turn waits for twice as many.
 */
const FIRST_SLICE_FRAMES = 16;
/** Bytes queued before a batch is written without waiting for the end of the turn. */
const FLUSH_EVERY_BYTES = 512 * 1024;
/** The fds of a frame that carries none. */
const NO_FDS: number[] = [];

/**
 * Bytes of answers (frames outside the peer's credit) queued past the transport's mark after
 * which this side stops reading from the peer (see `#answerBytes`).
 */
const PAUSE_AFTER_ANSWER_BYTES = 256 * 1024;
/** A request body above this size is refused while the memory budget is exhausted. */
const LARGE_MESSAGE = 64 * 1024;

/**
 * One end of a beamhub session over a byte connection: it turns the message model — channels,
 * requests and replies, byte streams, file descriptors — into the frames of PROTOCOL.md and
 * back. Channel 0 (`root`) exists from the start; everything else is created by references in
 * messages. Frames are encoded into one outgoing buffer and written in batches (at the end of a
 * turn of the event loop, and in growing slices during a long burst), which is what makes small
 * messages cheap.
 */
export class WireConnection {
  /** The session's root channel (id 0): the hub protocol runs on it. */
  readonly root: Channel;
  /** Resolves when both HELLOs were exchanged (rejects if the handshake fails). */
  readonly ready: Promise<void>;
  /** Resolves when the connection is gone, with the reason if it failed. */
  readonly closed: Promise<Error | undefined>;
  /** The codec both sides agreed on (after `ready`). */
  codec!: Codec;
  /** What the peer announced (after `ready`). */
  peerHello!: Hello;

  readonly #transport: ByteTransport;
  readonly #options: ConnectionConfig;
  readonly #budget: MemoryBudget;
  readonly #decoder: FrameDecoder;
  readonly #channels = new Map<number, ChannelState>();
  readonly #streams = new Map<number, StreamProxy>();
  readonly #receivedFds = new Queue<number>();
  #nextId: number;
  #nextRequestId = 1;
  readonly #outbox = new Outbox();
  /** Whether the end-of-turn flush (`#flushLater`) is scheduled. */
  #flushScheduled = false;
  #failure: Error | undefined;
  #isClosed = false;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #resolveClosed!: (error: Error | undefined) => void;
  /** The fds of the frame being dispatched (an entry becomes -1 once a reference took it). */
  #frameFds: number[] = NO_FDS;

  constructor(transport: ByteTransport, options: ConnectionOptions) {
    this.#options = verifyConfig(options);
    this.#budget = this.#options.memoryBudget;
    this.#transport = transport;
    this.#streamWire.maxData = this.#options.maxDataFrame;
    // Bulk DATA is passed on in the pieces it arrives in rather than joined: nothing changes on
    // the wire, and a 64 KiB frame spanning socket reads is not copied.
    this.#decoder = new FrameDecoder(this.#options.maxFrameSize, { splitData: true });
    this.#nextId = options.role === "client" ? 1 : 2;
    this.ready = new Promise((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    this.ready.catch(() => undefined);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.root = this.#openChannel(0).end;
    transport.start({
      data: (chunk, fds) => this.#receive(chunk, fds),
      closed: (error) => this.#lost(error ?? new ConnectionLostError("the peer closed the connection")),
      drain: () => this.#onDrain(),
    });
    this.#queueFrame(
      FrameType.HELLO,
      0,
      encodeHello({
        protocol: PROTOCOL_NAME,
        version: PROTOCOL_VERSION,
        codecs: this.#options.codecs.map((codec) => codec.name),
        maxFrameSize: this.#options.maxFrameSize,
        streamWindow: this.#options.streamWindow,
        fds: transport.supportsFds && this.#options.descriptors !== undefined,
        eventWindow: this.#options.eventWindow,
        maxStreams: this.#options.maxStreams,
        maxChannels: this.#options.maxChannels,
      }),
    );
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
  } {
    return {
      channels: this.#channels.size,
      streams: this.#streams.size,
      pendingFds: this.#receivedFds.length,
      unsentBytes: this.#outbox.bytes + (this.#transport.bufferedBytes ?? 0),
      readingPaused: this.#readingPaused,
    };
  }

  /** Ends the session cleanly: GOAWAY, then the connection closes; everything open fails. */
  close(reason = "closed by this side"): void {
    if (this.#isClosed) return;
    this.#sendJson(FrameType.GOAWAY, { code: "ENORMAL", message: reason });
    this.#flush();
    this.#shutDown(new ConnectionLostError(`session closed: ${reason}`));
    this.#transport.close();
  }

  // ---- receiving ---------------------------------------------------------------------------

  #receive(chunk: Uint8Array, fds: readonly number[]): void {
    if (this.#isClosed) {
      for (const fd of fds) this.#options.descriptors?.discard(fd);
      return;
    }
    // The peer does not read what we send: stop reading what it sends (this chunk is the last)
    // until our bytes drain, so its requests cannot pile up replies here.
    if (this.#congested && !this.#readingPaused && this.#answerBytes >= PAUSE_AFTER_ANSWER_BYTES) {
      this.#pauseReading();
    }
    for (const fd of fds) this.#receivedFds.push(fd);
    try {
      if (this.#receivedFds.length > this.#options.maxPendingFds) {
        throw new ProtocolError(
          "EFD_LIMIT",
          `more than ${this.#options.maxPendingFds} received fds wait for frames`,
        );
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
    if (this.peerHello === undefined && type !== FrameType.HELLO) {
      throw new ProtocolError("EHELLO", `expected HELLO first, got ${frameTypeName(type)}`);
    }
    if (fdCount === 0) {
      this.#handle(type, id, bytes, start, end);
      return;
    }
    if (this.#receivedFds.length < fdCount) {
      throw new ProtocolError(
        "EFD_MISSING",
        `${frameTypeName(type)} frame declares ${fdCount} fds but ${this.#receivedFds.length} arrived`,
      );
    }
    const fds: number[] = [];
    for (let i = 0; i < fdCount; i++) fds.push(this.#receivedFds.shift()!);
    this.#frameFds = fds;
    try {
      this.#handle(type, id, bytes, start, end);
    } finally {
      // fds a frame declared but no reference used are closed, never leaked.
      this.#frameFds = NO_FDS;
      for (const fd of fds) if (fd >= 0) this.#options.descriptors?.discard(fd);
    }
  }

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
        if (stream === undefined) return;
        stream.onData(payloadView(bytes, start, end));
        // Counted until returned as credit (WINDOW) or the stream is forgotten.
        this.#budget.add(end - start);
        return;
      }
      case FrameType.HELLO:
        return this.#onHello(payloadView(bytes, start, end));
      case FrameType.GOAWAY:
        return this.#onGoaway(payloadView(bytes, start, end));
      case FrameType.PING:
        return this.#queueFrame(FrameType.PONG, 0, payloadView(bytes, start, end));
      case FrameType.PONG:
        return;
      case FrameType.CANCEL: {
        const requestId = requestIdOf(type, bytes, start, end);
        const state = this.#channels.get(id);
        const incoming = state?.incoming.get(requestId);
        if (state?.incoming.delete(requestId) === true) this.pendingRequests--;
        incoming?.cancel(new CallAbortedError("channel", "the requester stopped waiting"));
        return;
      }
      case FrameType.CLOSE: {
        const state = this.#channels.get(id);
        if (state === undefined) return;
        this.#forgetChannel(id);
        const reason = end > start ? rebuildError(this.#decode(bytes, start, end) as WireError) : undefined;
        for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
        failWaiting(state, new ClosedError("channel", reason));
        state.end.peerClosed(reason);
        return;
      }
      case FrameType.WINDOW: {
        if (end - start !== 4) throw new ProtocolError("EFRAME", "WINDOW payload must be 4 bytes");
        const increment = readU32(bytes, start);
        const stream = this.#streams.get(id);
        if (stream !== undefined) return stream.onWindow(increment);
        // Channels and streams share the id space: a WINDOW on a channel's id is event credit.
        const state = this.#channel(id);
        if (state !== undefined) this.#onEventCredit(state, id, increment);
        return;
      }
      case FrameType.END:
        this.#streams.get(id)?.onEnd();
        return;
      case FrameType.RESET: {
        const stream = this.#streams.get(id);
        if (stream === undefined) return;
        const reason = end > start ? rebuildError(this.#decode(bytes, start, end) as WireError) : undefined;
        stream.onReset(reason);
        return;
      }
    }
  }

  // ---- channel events and their credit (PROTOCOL.md "Channel events") -----------------------

  #onEvent(id: number, bytes: Uint8Array, start: number, end: number): void {
    const state = this.#channel(id);
    const data = this.#decode(bytes, start, end);
    if (state === undefined) {
      // The channel closed while the event was in flight: what it carried is closed with it.
      const refusal = this.#takeRefusal();
      this.#keepAttachments(state, data, refusal);
      return;
    }
    if (--state.receiveCredit < 0) {
      throw new ProtocolError(
        "EFLOW_CONTROL",
        `channel ${id}: the peer sent an event beyond the ${this.#options.eventWindow} events of credit`,
      );
    }
    const size = end - start;
    if (this.#takeRefusal() !== undefined) {
      // Its channels and streams were refused (closed, reset); the event itself is dropped.
      this.#eventConsumed(state, id, 0);
      return;
    }
    this.#keepAttachments(state, data);
    this.#budget.add(size);
    const full = state.end.deliverEvent(data);
    // Credit goes back once the event is taken, or at once while the receiver has room.
    if (full === undefined) this.#eventConsumed(state, id, size);
    else void full.then(() => this.#eventConsumed(state, id, size));
  }

  /** An event left the receiver's queue: return credit, half a window at a time. */
  #eventConsumed(state: ChannelState, id: number, size: number): void {
    this.#budget.add(-size);
    if (!this.#eventCredit || this.#isClosed || this.#channel(id) !== state) return;
    if (++state.consumed < this.#creditBatch) return;
    state.receiveCredit += state.consumed;
    this.#queueFrame(FrameType.WINDOW, id, encodeU32(state.consumed));
    state.consumed = 0;
  }

  #onEventCredit(state: ChannelState, id: number, increment: number): void {
    state.sendCredit += increment;
    const waiting = state.waiting;
    if (waiting === undefined) return;
    while (state.sendCredit > 0 && waiting.length > 0) {
      const event = waiting.shift()!;
      try {
        this.#sendMessage(FrameType.EVENT, id, event.data);
        state.sendCredit--;
        event.resolve();
      } catch (error) {
        event.reject(error);
      }
    }
    if (waiting.length === 0) state.waiting = undefined;
  }

  /** Sends an event, or queues it until the peer grants credit (its sender's promise waits). */
  #sendEvent(state: ChannelState, id: number, data: unknown): Promise<void> | undefined {
    if (state.sendCredit > 0 && state.waiting === undefined) {
      try {
        this.#sendMessage(FrameType.EVENT, id, data);
      } catch (error) {
        return Promise.reject(error);
      }
      state.sendCredit--;
      return undefined;
    }
    if (this.#isClosed) return Promise.reject(new ClosedError("session", this.#failure));
    return new Promise((resolve, reject) => {
      (state.waiting ??= new Queue()).push({ data, resolve, reject });
    });
  }

  /** Whether the peer counts event credit (it announced `eventWindow`). */
  #eventCredit = false;
  /** Consumed events returned in one WINDOW: half our window. */
  get #creditBatch(): number {
    return Math.max(1, this.#options.eventWindow >>> 1);
  }

  #onHello(payload: Uint8Array): void {
    if (this.peerHello !== undefined) throw new ProtocolError("EHELLO", "a second HELLO");
    const hello = decodeHello(payload);
    const mine = this.#options.codecs;
    const clientOrder = this.#options.role === "client" ? mine.map((codec) => codec.name) : hello.codecs;
    const serverSide = this.#options.role === "client" ? hello.codecs : mine.map((codec) => codec.name);
    const chosen = clientOrder.find((name) => serverSide.includes(name));
    if (chosen === undefined) {
      throw new ProtocolError(
        "ECODEC",
        `no codec in common (client offers ${clientOrder.join(", ")}; server speaks ${serverSide.join(", ")})`,
      );
    }
    this.codec = mine.find((codec) => codec.name === chosen)!;
    this.peerHello = hello;
    // DATA frames are cut to what we chose and the peer accepts.
    this.#streamWire.maxData = Math.min(this.#options.maxDataFrame, hello.maxFrameSize);
    // Only a peer that announced an event window counts credit (a peer of before it did not).
    if (hello.eventWindow !== undefined) {
      this.#eventCredit = true;
      const root = this.#rootState;
      if (root !== undefined) {
        root.sendCredit = hello.eventWindow;
        root.receiveCredit = this.#options.eventWindow;
      }
    }
    this.#resolveReady();
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
    this.#transport.close();
  }

  #onRequest(id: number, bytes: Uint8Array, start: number, end: number): void {
    const requestId = requestIdOf(FrameType.REQUEST, bytes, start, end);
    const data = this.#decode(bytes, start + 4, end);
    const state = this.#channel(id);
    let refusal = this.#takeRefusal();
    if (refusal === undefined && this.pendingRequests >= this.#options.maxPendingRequests) {
      refusal = new LimitExceededError(
        "maxPendingRequests",
        `request refused: the peer may have at most ${this.#options.maxPendingRequests} requests waiting for an answer`,
      );
    } else if (refusal === undefined && end - start > LARGE_MESSAGE && this.#budget.wouldExceed()) {
      refusal = new LimitExceededError(
        "memoryBudget",
        `a request of ${end - start} bytes was refused: the hub's budget of ${this.#budget.limit} buffered bytes is used up`,
      );
    }
    if (!this.#keepAttachments(state, data, refusal)) {
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

  /** @internal Requests the peer sent that wait for our answer (all channels). */
  pendingRequests = 0;

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
    this.#sendMessage(FrameType.FAIL, channelId, describeError(value), requestId);
  }

  #onAnswer(type: FrameTypeCode, id: number, bytes: Uint8Array, start: number, end: number): void {
    const requestId = requestIdOf(type, bytes, start, end);
    const state = this.#channel(id);
    const sink = state?.outgoing.get(requestId);
    if (sink === undefined) return; // cancelled or timed out meanwhile
    state!.outgoing.delete(requestId);
    const value = this.#decode(bytes, start + 4, end);
    const refusal = this.#takeRefusal();
    if (refusal !== undefined) sink.reject(refusal);
    else if (!this.#keepAttachments(state, value)) return;
    else if (type === FrameType.REPLY) sink.resolve(value);
    else sink.reject(rebuildError(value as WireError));
  }

  // ---- channels and streams ----------------------------------------------------------------

  /** The root channel's state while it is open: nearly every frame is on it, so no lookup. */
  #rootState: ChannelState | undefined;

  #channel(id: number): ChannelState | undefined {
    return id === 0 ? this.#rootState : this.#channels.get(id);
  }

  #forgetChannel(id: number): void {
    if (!this.#channels.delete(id)) return;
    if (id === 0) this.#rootState = undefined;
    else if (this.#isPeerId(id)) this.#peerChannels--;
    else this.#ownChannels--;
  }

  /** Channels and streams open now that the peer opened, and that this side opened. */
  #peerChannels = 0;
  #ownChannels = 0;
  #peerStreams = 0;
  #ownStreams = 0;

  #forgetStream(id: number): void {
    const proxy = this.#streams.get(id);
    if (proxy === undefined) return;
    this.#streams.delete(id);
    // What arrived and was not returned as credit is no longer buffered here.
    this.#budget.add(-proxy.unreturnedCredit);
    if (this.#isPeerId(id)) this.#peerStreams--;
    else this.#ownStreams--;
  }

  #openChannel(id: number): ChannelState {
    const credit = this.#eventCredit;
    const state: ChannelState = {
      end: undefined!,
      outgoing: new IdTable(),
      incoming: new IdTable(),
      sendCredit: credit ? this.peerHello.eventWindow! : Infinity,
      receiveCredit: credit ? this.#options.eventWindow : Infinity,
      consumed: 0,
      waiting: undefined,
    };
    const options = { highWaterMark: this.#options.eventWindow };
    state.end = new Channel(
      {
        event: (data) => this.#sendEvent(state, id, data),
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
            this.#outbox.message(FrameType.CANCEL, id, requestId, EMPTY, 0, 0, 0);
            this.#afterQueue();
          }
        },
        close: (reason) => {
          if (this.#channels.get(id) !== state) return;
          this.#forgetChannel(id);
          for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
          failWaiting(state, new ClosedError("channel", reason));
          if (!this.#isClosed) {
            const body = reason === undefined ? EMPTY : this.#encodePlain(describeError(reason));
            this.#queueFrame(FrameType.CLOSE, id, body);
          }
        },
      },
      options,
    );
    this.#channels.set(id, state);
    if (this.#isPeerId(id)) this.#peerChannels++;
    else if (id !== 0) this.#ownChannels++;
    if (id === 0) this.#rootState = state;
    return state;
  }

  readonly #streamWire: StreamWire & { maxData: number } = {
    maxData: 0, // set from the options, then capped by the peer's maxFrameSize
    sendData: (id, chunk) => {
      if (this.#isClosed) return;
      // Header and bytes go out as two chunks of one writev: stream bytes are never copied.
      this.#outbox.data(id, chunk);
      this.#afterQueue();
    },
    sendWindow: (id, increment) => {
      this.#budget.add(-increment);
      this.#queueFrame(FrameType.WINDOW, id, encodeU32(increment));
    },
    sendEnd: (id) => {
      this.#queueFrame(FrameType.END, id);
    },
    sendReset: (id, reason) => {
      if (!this.#isClosed) this.#queueFrame(FrameType.RESET, id, this.#encodePlain(describeError(reason)));
    },
    forget: (id) => this.#forgetStream(id),
  };

  #openStream(id: number): StreamProxy {
    const proxy = new StreamProxy(
      id,
      this.#streamWire,
      this.peerHello.streamWindow,
      this.#options.streamWindow,
    );
    this.#streams.set(id, proxy);
    if (this.#isPeerId(id)) this.#peerStreams++;
    else this.#ownStreams++;
    return proxy;
  }

  #allocateId(): number {
    const id = this.#nextId;
    this.#nextId += 2;
    if (this.#nextId > 0xffffffff) throw new ProtocolError("EIDS", "channel and stream ids exhausted");
    return id;
  }

  /** True when `id` was allocated by the peer (the other parity). */
  #isPeerId(id: number): boolean {
    return id !== 0 && (id % 2 === 1) === (this.#options.role === "server");
  }

  // ---- encoding ----------------------------------------------------------------------------

  /**
   * Encodes message data and queues the frame. References are resolved while encoding; the
   * splices that feed them start only after the frame is queued, so the peer always learns
   * about a channel or stream before the first frame that uses it.
   */
  #sendMessage(type: number, id: number, data: unknown, requestId = -1): void {
    if (this.#isClosed) throw new ClosedError("session", this.#failure);
    if (this.#encoding) {
      // Only user code run by the encoder (a getter in the data) can get here.
      throw new InvalidMessageError("a message cannot be sent while another one is being encoded");
    }
    // The encode hooks are made once per connection; what one message attaches is collected
    // in `#attaching`, made only when a message has attachments (encoding is synchronous, so
    // messages cannot interleave).
    this.#attaching = undefined;
    // The body is encoded straight into the outgoing batch, after room for the frame header.
    const bodyAt = this.#outbox.beginMessage(requestId === -1 ? 0 : 4);
    let body: EncodedRegion;
    let conversions: ConvertedDescriptor[] | undefined;
    this.#encoding = true;
    try {
      try {
        body = this.#encode(data, bodyAt);
      } catch (error) {
        if (error !== CONVERT_DESCRIPTORS && (error as Error)?.cause !== CONVERT_DESCRIPTORS) throw error;
        // The message carries descriptors that cannot travel here: send them as byte streams.
        this.#undoAttaching();
        conversions = [];
        const converted = replaceDescriptors(data, conversions);
        this.#replacingDescriptors = true;
        try {
          body = this.#encode(converted, bodyAt);
        } finally {
          this.#replacingDescriptors = false;
        }
        const attaching = (this.#attaching ??= { after: [], created: [], fds: [] });
        for (const conversion of conversions) {
          attaching.created.push(conversion.undo);
          attaching.after.push(conversion.start);
        }
        conversions = undefined;
      }
    } catch (error) {
      this.#undoAttaching();
      for (const conversion of conversions ?? []) conversion.undo();
      throw error instanceof Error && error.name !== "Error"
        ? error
        : new InvalidMessageError(`message data cannot be encoded: ${(error as Error).message}`);
    } finally {
      this.#encoding = false;
    }
    const size = body.end - body.start + (requestId === -1 ? 0 : 4);
    const limit = this.peerHello.maxFrameSize;
    if (size > limit) {
      this.#undoAttaching();
      throw new InvalidMessageError(
        `message of ${size} bytes exceeds the peer's frame size limit of ${limit} bytes`,
      );
    }
    const attaching = this.#takeAttaching();
    const fds = attaching === undefined ? NO_FDS : attaching.fds;
    // fds ride with the first byte of a batch: the frames before this one go out first (the
    // body encoded in place is not part of the batch until it is committed).
    if (fds.length > 0) this.#startBatchWithFds(fds);
    if (body.bytes === this.#outbox.slab && body.start === bodyAt) {
      this.#outbox.commitMessage(type, id, requestId, bodyAt, body.end, fds.length);
    } else {
      // It did not fit in the room it was given (or the codec cannot encode in place): the
      // bytes are copied in, before anything else can encode.
      this.#outbox.message(type, id, requestId, body.bytes, body.start, body.end, fds.length);
    }
    this.#afterQueue();
    if (attaching !== undefined) for (const start of attaching.after) start();
  }

  /** True while message data is being encoded (see `#sendMessage`). */
  #encoding = false;

  /** Where `#encode` puts the bytes of a codec that cannot encode in place. */
  readonly #region: { bytes: Uint8Array; start: number; end: number } = { bytes: EMPTY, start: 0, end: 0 };

  /**
   * Encodes message data, into the outgoing batch at `at` when the codec can and it fits; the
   * bytes are valid until the next encode.
   */
  #encode(data: unknown, at: number): EncodedRegion {
    const codec = this.codec;
    if (codec.encodeTransient !== undefined) {
      return codec.encodeTransient(data, this.#encodeHooks, this.#outbox.slab, at);
    }
    const bytes = codec.encode(data, this.#encodeHooks);
    const region = this.#region;
    region.bytes = bytes;
    region.start = 0;
    region.end = bytes.byteLength;
    return region;
  }

  /** True while a message is encoded again with its descriptors replaced by byte streams. */
  #replacingDescriptors = false;

  /** What the message being encoded attaches: splices to start after it, undo on failure, fds. */
  #attaching: { after: (() => void)[]; created: (() => void)[]; fds: number[] } | undefined;

  #takeAttaching(): { after: (() => void)[]; created: (() => void)[]; fds: number[] } | undefined {
    const attaching = this.#attaching;
    this.#attaching = undefined;
    return attaching;
  }

  #undoAttaching(): void {
    const attaching = this.#takeAttaching();
    if (attaching === undefined) return;
    for (const undo of attaching.created) undo();
    for (const fd of attaching.fds) this.#options.descriptors?.discard(fd);
  }

  readonly #encodeHooks: RefHooks = {
    toRef: (value: Attachable) => {
      const attaching = (this.#attaching ??= { after: [], created: [], fds: [] });
      return this.#attach(value, attaching.after, attaching.created, attaching.fds);
    },
    fromRef: (ref) => ref,
    // Every reference on the wire is one this side allocated for an attachment it sends: a
    // bare Ref in message data (decoded without a session, e.g. from a client's JSON) would
    // name an id the peer never learnt of, or one of its own, and the peer would end the
    // whole session over it.
    bareRef: (ref) => {
      throw new InvalidMessageError(
        `message data holds a bare reference (${ref.toString()}): only channels, byte streams and descriptors can travel, and the session allocates their references`,
      );
    },
  };

  readonly #decodeHooks: RefHooks = {
    toRef: () => {
      throw new ProtocolError("EDECODE", "unexpected attachment while decoding");
    },
    fromRef: (ref) => this.#resolveRef(ref),
  };

  #attach(value: Attachable, after: (() => void)[], created: (() => void)[], fds: number[]): Ref {
    if (value instanceof Channel) {
      const limit = this.peerHello.maxChannels;
      if (limit !== undefined && this.#ownChannels >= limit) {
        throw new LimitExceededError(
          "maxChannels",
          `the peer keeps at most ${limit} channels open that this side opened; ${this.#ownChannels} are`,
        );
      }
      const id = this.#allocateId();
      const state = this.#openChannel(id);
      created.push(() => this.#forgetChannel(id));
      after.push(() => spliceChannels(value, state.end));
      return new Ref("channel", id);
    }
    if (value instanceof ByteStream) {
      const limit = this.peerHello.maxStreams;
      if (limit !== undefined && this.#ownStreams >= limit) {
        throw new LimitExceededError(
          "maxStreams",
          `the peer keeps at most ${limit} byte streams open that this side opened; ${this.#ownStreams} are`,
        );
      }
      const id = this.#allocateId();
      const proxy = this.#openStream(id);
      created.push(() => this.#forgetStream(id));
      after.push(() => spliceStreams(value, proxy.stream));
      return new Ref("stream", id);
    }
    if (value instanceof FileDescriptor) {
      const descriptors = this.#options.descriptors;
      if (descriptors === undefined || !this.peerHello.fds || !this.#transport.supportsFds) {
        if (descriptors?.unavailable !== undefined) throw descriptors.unavailable();
        // fds cannot travel: a socket goes as a byte stream, a regular file as its content
        // (PROTOCOL.md, "Descriptors on network transports"); anything else throws here.
        // Codecs write a descriptor as an fd reference, so the message is encoded again with
        // the descriptors replaced (`#sendMessage`).
        checkConvertible(value);
        if (this.#replacingDescriptors) {
          throw new InvalidMessageError(
            "a file descriptor inside an object that is not plain data cannot travel on this connection",
          );
        }
        throw CONVERT_DESCRIPTORS;
      }
      fds.push(descriptors.toFd(value));
      return new Ref("fd", fds.length - 1);
    }
    throw new InvalidMessageError(`cannot send a ${value.refKind} reference of an unknown class`);
  }

  #decode(bytes: Uint8Array, start: number, end: number): unknown {
    if (this.#refusal !== undefined) this.#refusal = undefined;
    if (this.#decodedRefs.length > 0) this.#decodedRefs.length = 0;
    try {
      const codec = this.codec;
      return codec.decodeRegion !== undefined
        ? codec.decodeRegion(bytes, start, end, this.#decodeHooks)
        : codec.decode(payloadView(bytes, start, end), this.#decodeHooks);
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
   * Returns whether the message is to be delivered. Call after `#takeRefusal`.
   */
  #keepAttachments(
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

  #resolveRef(ref: Ref): unknown {
    switch (ref.kind) {
      case "channel": {
        if (!this.#isPeerId(ref.id) || this.#channels.has(ref.id)) {
          throw new ProtocolError("EREF", `channel reference ${ref.id} is not a new id of the peer`);
        }
        const over =
          this.#peerChannels >= this.#options.maxChannels
            ? new LimitExceededError(
                "maxChannels",
                `channel ${ref.id} refused: the peer may keep at most ${this.#options.maxChannels} channels open`,
              )
            : this.#overBudget("channel", ref.id);
        this.#decodedRefs.push(ref);
        if (over !== undefined) return this.#refuseRef(over);
        return this.#openChannel(ref.id).end;
      }
      case "stream": {
        if (!this.#isPeerId(ref.id) || this.#streams.has(ref.id)) {
          throw new ProtocolError("EREF", `stream reference ${ref.id} is not a new id of the peer`);
        }
        const over =
          this.#peerStreams >= this.#options.maxStreams
            ? new LimitExceededError(
                "maxStreams",
                `byte stream ${ref.id} refused: the peer may keep at most ${this.#options.maxStreams} streams open`,
              )
            : this.#overBudget("byte stream", ref.id);
        this.#decodedRefs.push(ref);
        if (over !== undefined) return this.#refuseRef(over);
        return this.#openStream(ref.id).stream;
      }
      case "fd": {
        const fd = this.#frameFds[ref.id];
        if (fd === undefined || this.#options.descriptors === undefined) {
          throw new ProtocolError(
            "EREF",
            `fd reference ${ref.id} but the frame carries ${this.#frameFds.length} fds`,
          );
        }
        this.#frameFds[ref.id] = -1;
        const descriptor = this.#options.descriptors.fromFd(fd);
        this.#decodedRefs.push(descriptor);
        return descriptor;
      }
    }
  }

  /**
   * Why the message being decoded is refused (a channel or stream over a limit), if it is; the
   * frame's handler answers for it: a request FAILs, a reply rejects, an event is dropped.
   */
  #refusal: LimitExceededError | undefined;
  /** What the message being decoded opened or took: undone if it is refused. */
  readonly #decodedRefs: (Ref | FileDescriptor)[] = [];

  #overBudget(what: string, id: number): LimitExceededError | undefined {
    if (!this.#budget.wouldExceed()) return undefined;
    return new LimitExceededError(
      "memoryBudget",
      `${what} ${id} refused: the budget of ${this.#budget.limit} buffered bytes is used up`,
    );
  }

  /** A reference over a limit: the message is refused (see `#takeRefusal`). */
  #refuseRef(error: LimitExceededError): undefined {
    this.#refusal ??= error;
    return undefined;
  }

  /**
   * The refusal of the message just decoded, if any, after undoing what it opened: every
   * channel it carried is closed and every stream reset, with the reason (so the peer's ends
   * fail typed and their ids are done), every fd it carried closed.
   */
  #takeRefusal(): LimitExceededError | undefined {
    const refusal = this.#refusal;
    if (refusal === undefined) return undefined;
    this.#refusal = undefined;
    const reason = this.#isClosed ? EMPTY : this.#encodePlain(describeError(refusal));
    for (const item of this.#decodedRefs) {
      if (item instanceof FileDescriptor) {
        item.close();
        continue;
      }
      if (item.kind === "channel") {
        const state = this.#channels.get(item.id);
        if (state !== undefined) state.end.close(refusal);
        else this.#queueFrame(FrameType.CLOSE, item.id, reason);
      } else {
        // Reset here without a RESET of its own, then with the refusal as the reason.
        this.#streams.get(item.id)?.onReset(refusal);
        this.#queueFrame(FrameType.RESET, item.id, reason);
      }
    }
    this.#decodedRefs.length = 0;
    return refusal;
  }

  /** Encodes data that carries no references (errors, close reasons). */
  #encodePlain(value: unknown): Uint8Array {
    return this.codec.encode(value);
  }

  #sendJson(type: number, value: unknown): void {
    this.#queueFrame(type, 0, new TextEncoder().encode(JSON.stringify(value)));
  }

  // ---- writing -----------------------------------------------------------------------------

  /** Queues a frame without message data (its payload is copied). */
  #queueFrame(type: number, id: number, payload: Uint8Array = EMPTY): void {
    if (this.#isClosed) return;
    this.#outbox.frame(type, id, payload);
    this.#afterQueue();
  }

  /** fds ride with the first byte of a batch: a frame that carries fds starts a new batch. */
  #startBatchWithFds(fds: readonly number[]): void {
    if (this.#outbox.frames > 0) this.#flush();
    this.#outbox.addFds(fds);
  }

  /** After a frame was queued: write the batch now if it is long, else at the end of the turn. */
  #afterQueue(): void {
    const outbox = this.#outbox;
    if (outbox.frames >= this.#sliceFrames || outbox.bytes >= FLUSH_EVERY_BYTES) {
      // A long burst (replies to a batch of requests) goes out in slices, so that the peer
      // starts on the first ones while this side produces the rest: both processes work at
      // once instead of taking turns. Each slice is twice the last: a write that wakes a
      // sleeping peer costs 10-20 µs of system time here, and a peer busy with a longer slice
      // needs no waking (measured with 100 calls in flight: ~15% more calls/s than fixed
      // slices of 16, with the same first slice).
      this.#sliceFrames *= 2;
      this.#flush();
      this.#transport.flush?.();
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(this.#flushLater);
    }
  }

  /** The frames of the turn's next slice (see `#afterQueue`). */
  #sliceFrames = FIRST_SLICE_FRAMES;

  /** The end of a turn: what is queued goes out, and the next turn starts with a short slice. */
  readonly #flushLater = (): void => {
    this.#flushScheduled = false;
    this.#sliceFrames = FIRST_SLICE_FRAMES;
    this.#flush();
  };

  #flush(): void {
    const outbox = this.#outbox;
    if (outbox.frames === 0) return;
    this.#answerBytes += outbox.bytes - outbox.creditedBytes;
    const { chunks, fds } = outbox.take();
    if (this.#transport.write(chunks, fds) === false) this.#overHighWaterMark();
    else this.#answerBytes = 0;
  }

  // ---- a peer that does not read (backpressure) ---------------------------------------------

  /** Whether the transport holds more than its high-water mark of bytes for the peer. */
  #congested = false;
  /**
   * Bytes of frames outside the peer's credit (answers, PONGs, ...) written since the transport
   * was last under its mark. Reading from the peer pauses only when these are many: bytes that
   * credit bounds (a bulk stream, events) must not stop this side from reading the peer's
   * WINDOWs — two sides both streaming to each other would each wait for the other to read.
   */
  #answerBytes = 0;
  #readingPaused = false;
  /** Unsent bytes counted in the memory budget (while congested). */
  #countedUnsent = 0;
  #slowTimer: NodeJS.Timeout | undefined;
  #droppingSlowPeer = false;

  /**
   * The transport's bytes for the peer reached its high-water mark: stop reading from the peer
   * (at its next bytes: most congestion drains first), count them in the memory budget, and
   * give the peer `slowConsumerTimeout` to catch up. Past `maxUnsentBytes` it gets no time.
   */
  #overHighWaterMark(): void {
    const unsent = this.#transport.bufferedBytes ?? 0;
    this.#budget.add(unsent - this.#countedUnsent);
    this.#countedUnsent = unsent;
    if (unsent > this.#options.maxUnsentBytes) {
      this.#slowConsumer(
        `${unsent} bytes queued for the peer exceed maxUnsentBytes (${this.#options.maxUnsentBytes})`,
      );
      return;
    }
    if (this.#congested) return;
    this.#congested = true;
    this.#slowTimer = setTimeout(() => {
      this.#slowConsumer(
        `the peer read nothing of ${this.#transport.bufferedBytes ?? "its"} queued bytes for ${this.#options.slowConsumerTimeout} ms`,
      );
    }, this.#options.slowConsumerTimeout);
    this.#slowTimer.unref();
  }

  #pauseReading(): void {
    this.#readingPaused = true;
    this.#transport.pause?.();
  }

  /** The transport's bytes for the peer drained: read from it again. */
  #onDrain(): void {
    if (!this.#congested) return;
    this.#endCongestion();
    if (this.#readingPaused && !this.#isClosed) {
      this.#readingPaused = false;
      this.#transport.resume?.();
    }
  }

  #endCongestion(): void {
    this.#congested = false;
    this.#answerBytes = 0;
    clearTimeout(this.#slowTimer);
    this.#slowTimer = undefined;
    this.#budget.add(-this.#countedUnsent);
    this.#countedUnsent = 0;
  }

  /** Closes a session whose peer does not read: GOAWAY ESLOW_CONSUMER, then the connection is dropped. */
  #slowConsumer(reason: string): void {
    // Once: the GOAWAY below is written past the limit too.
    if (this.#isClosed || this.#droppingSlowPeer) return;
    this.#droppingSlowPeer = true;
    this.#sendJson(FrameType.GOAWAY, { code: "ESLOW_CONSUMER", message: reason });
    this.#flush();
    this.#shutDown(new SlowConsumerError(`session closed: ${reason}`));
    // What is queued will not be read: drop it rather than wait for it.
    if (this.#transport.abort !== undefined) this.#transport.abort();
    else this.#transport.close();
  }

  // ---- failure -----------------------------------------------------------------------------

  #protocolFailure(error: unknown): void {
    const failure =
      error instanceof ProtocolError
        ? error
        : new ProtocolError("EPROTOCOL", String((error as Error)?.message ?? error));
    if (!this.#isClosed) {
      this.#sendJson(FrameType.GOAWAY, { code: failure.code, message: failure.message });
      this.#flush();
    }
    this.#shutDown(failure);
    this.#transport.close();
  }

  #lost(error: Error): void {
    this.#shutDown(
      error instanceof ConnectionLostError ? error : new ConnectionLostError(error.message, error),
    );
  }

  #shutDown(error: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#failure = error;
    this.#rejectReady(error);
    if (this.#congested) this.#endCongestion();
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    this.#rootState = undefined;
    this.#peerChannels = this.#ownChannels = 0;
    for (const state of channels) {
      for (const incoming of state.incoming.values()) incoming.cancel(error);
      failWaiting(state, new ClosedError("channel", error));
      state.end.peerClosed(error);
    }
    const streams = [...this.#streams.values()];
    for (const stream of streams) this.#forgetStream(stream.id);
    for (const stream of streams) stream.connectionLost(error);
    for (const fd of this.#receivedFds.drain()) this.#options.descriptors?.discard(fd);
    for (const fd of this.#outbox.clear()) this.#options.descriptors?.discard(fd);
    this.#resolveClosed(error);
  }
}

/** Fails the sends waiting for credit on a channel that closed. */
function failWaiting(state: ChannelState, error: Error): void {
  const waiting = state.waiting;
  if (waiting === undefined) return;
  state.waiting = undefined;
  for (const event of waiting.drain()) event.reject(error);
}

/**
 * The answer path of a request that arrived over the wire: settling it sends REPLY or FAIL,
 * and a CANCEL from the requester cancels it (no AbortSignal unless a handler asks for one).
 */
class WireIncoming implements ReplySink {
  #cancellation: Cancellation | undefined;

  constructor(
    private readonly connection: WireConnection,
    private readonly state: ChannelState,
    private readonly channelId: number,
    private readonly requestId: number,
  ) {}

  get cancellation(): Cancellation {
    return (this.#cancellation ??= new Cancellation());
  }

  resolve(value: unknown): void {
    if (this.state.incoming.delete(this.requestId)) {
      this.connection.pendingRequests--;
      this.connection.answer(this.channelId, this.requestId, true, value);
      return;
    }
    // The requester stopped waiting (CANCEL) or the channel closed: this reply goes nowhere,
    // and what it carries must not wait for the channel (a handler's channel lives as long as
    // its registration: late replies with fds once piled up there).
    closeAttachments(value, new CallAbortedError("channel", "the requester stopped waiting"));
  }

  reject(error: unknown): void {
    if (this.state.incoming.delete(this.requestId)) {
      this.connection.pendingRequests--;
      this.connection.answer(this.channelId, this.requestId, false, error);
    }
  }

  cancel(reason: unknown): void {
    this.#cancellation?.cancel(reason);
  }
}
