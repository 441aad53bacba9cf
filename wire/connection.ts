import { Ref, type Attachable, type Codec, type EncodedRegion, type RefHooks } from "../codecs/reference.js";
import { closeAttachments } from "../hub/attachments.js";
import { ByteStream } from "../hub/byte-stream.js";
import { Cancellation } from "../hub/cancellation.js";
import { Channel, type ReplySink } from "../hub/channel.js";
import { CallAbortedError, ClosedError, InvalidMessageError } from "../hub/errors.js";
import { FileDescriptor } from "../hub/file-descriptor.js";
import { Queue } from "../hub/queue.js";
import { ConnectionLostError, ProtocolError } from "./errors.js";
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

/**
 * A byte connection the session protocol runs over: a Unix socket (which can carry fds), a TLS
 * stream, a WebSocket. The connection batches frames itself; `write` receives whole batches.
 */
export interface ByteTransport {
  /** Whether file descriptors can travel on this connection. */
  readonly supportsFds: boolean;
  /** Sends `chunks` in order; `fds` travel with the first byte of the batch (ownership passes). */
  write(chunks: Uint8Array[], fds: number[]): void;
  /** Starts delivery; called once by the connection. */
  start(handlers: TransportHandlers): void;
  /** Closes the connection after what was written; idempotent. */
  close(): void;
  /** Puts what was written on the wire now rather than at the end of the turn (optional). */
  flush?(): void;
}

export interface TransportHandlers {
  /** Bytes arrived, with any fds received alongside them (FIFO, see PROTOCOL.md "fds"). */
  data(chunk: Uint8Array, fds: readonly number[]): void;
  /** The connection closed (with the reason, if it failed). */
  closed(error?: Error): void;
}

/** Turns sent and received descriptors into fd numbers and back (the Unix transport's job). */
export interface DescriptorCodec {
  /** Takes the handle out of `descriptor` and returns an fd number the transport may own. */
  toFd(descriptor: FileDescriptor): number;
  /** Wraps a received fd in a descriptor of its natural Node type. */
  fromFd(fd: number): FileDescriptor;
  /** Closes a received fd nobody will use (a frame was rejected). */
  discard(fd: number): void;
}

/** Options of a `WireConnection`. */
export interface ConnectionOptions {
  /** Which side of the connection this is: the client allocates odd ids, the server even ones. */
  role: "client" | "server";
  /** Codecs this side speaks, in order of preference (the client's order decides). */
  codecs: readonly Codec[];
  /** Largest frame payload accepted (default 16 MiB). */
  maxFrameSize?: number;
  /** Initial receive window of every byte stream (default 1 MiB). */
  streamWindow?: number;
  /** Largest DATA payload sent (default 64 KiB). */
  maxDataFrame?: number;
  /** How fds become numbers and back; required for fds to travel. */
  descriptors?: DescriptorCodec;
  /** Limits on what the peer may open. */
  maxChannels?: number;
  maxStreams?: number;
  /** Received fds that may wait for their frame before the session fails (default 1024). */
  maxPendingFds?: number;
}

/** Per-channel state: the local end that speaks frames, and its requests in flight. */
interface ChannelState {
  end: Channel;
  /** Requests we sent on this channel, by request id. */
  outgoing: IdTable<ReplySink>;
  /** Requests we received and have not answered, by request id. */
  incoming: IdTable<WireIncoming>;
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

const DEFAULTS = {
  maxFrameSize: 16 * 1024 * 1024,
  streamWindow: 1024 * 1024,
  maxDataFrame: 64 * 1024,
  maxChannels: 100_000,
  maxStreams: 10_000,
  maxPendingFds: 1024,
};

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
  readonly #options: Required<Omit<ConnectionOptions, "descriptors">> & { descriptors?: DescriptorCodec };
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
    this.#transport = transport;
    this.#options = { ...DEFAULTS, ...options };
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
      }),
    );
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Counts of live channels and streams, for tests and metrics. */
  get stats(): { channels: number; streams: number; pendingFds: number } {
    return {
      channels: this.#channels.size,
      streams: this.#streams.size,
      pendingFds: this.#receivedFds.length,
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
      case FrameType.EVENT: {
        const state = this.#channel(id);
        const data = this.#decode(bytes, start, end);
        if (this.#keepAttachments(state, data)) void state.end.deliverEvent(data);
        return;
      }
      case FrameType.DATA:
        this.#streams.get(id)?.onData(payloadView(bytes, start, end));
        return;
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
        state?.incoming.delete(requestId);
        incoming?.cancel(new CallAbortedError("channel", "the requester stopped waiting"));
        return;
      }
      case FrameType.CLOSE: {
        const state = this.#channels.get(id);
        if (state === undefined) return;
        this.#forgetChannel(id);
        const reason = end > start ? rebuildError(this.#decode(bytes, start, end) as WireError) : undefined;
        for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
        state.end.peerClosed(reason);
        return;
      }
      case FrameType.WINDOW: {
        if (end - start !== 4) throw new ProtocolError("EFRAME", "WINDOW payload must be 4 bytes");
        const increment = readU32(bytes, start);
        this.#streams.get(id)?.onWindow(increment);
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
    if (!this.#keepAttachments(state, data)) {
      // The channel closed while the request was in flight: answer so the requester stops.
      if (!this.#isClosed)
        this.#sendMessage(FrameType.FAIL, id, describeError(new ClosedError("channel")), requestId);
      return;
    }
    const sink = new WireIncoming(this, state, id, requestId);
    state.incoming.set(requestId, sink);
    state.end.deliverRequest(data, sink);
  }

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
    this.#keepAttachments(state, value);
    if (type === FrameType.REPLY) sink.resolve(value);
    else sink.reject(rebuildError(value as WireError));
  }

  // ---- channels and streams ----------------------------------------------------------------

  /** The root channel's state while it is open: nearly every frame is on it, so no lookup. */
  #rootState: ChannelState | undefined;

  #channel(id: number): ChannelState | undefined {
    return id === 0 ? this.#rootState : this.#channels.get(id);
  }

  #forgetChannel(id: number): void {
    this.#channels.delete(id);
    if (id === 0) this.#rootState = undefined;
  }

  #openChannel(id: number): ChannelState {
    const state: ChannelState = { end: undefined!, outgoing: new IdTable(), incoming: new IdTable() };
    state.end = new Channel({
      event: (data) => {
        try {
          this.#sendMessage(FrameType.EVENT, id, data);
          return undefined;
        } catch (error) {
          return Promise.reject(error);
        }
      },
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
        if (!this.#isClosed) {
          const body = reason === undefined ? EMPTY : this.#encodePlain(describeError(reason));
          this.#queueFrame(FrameType.CLOSE, id, body);
        }
      },
    });
    this.#channels.set(id, state);
    if (id === 0) this.#rootState = state;
    return state;
  }

  #streamWire: StreamWire = {
    maxData: DEFAULTS.maxDataFrame,
    sendData: (id, chunk) => {
      if (this.#isClosed) return;
      // Header and bytes go out as two chunks of one writev: stream bytes are never copied.
      this.#outbox.data(id, chunk);
      this.#afterQueue();
    },
    sendWindow: (id, increment) => {
      this.#queueFrame(FrameType.WINDOW, id, encodeU32(increment));
    },
    sendEnd: (id) => {
      this.#queueFrame(FrameType.END, id);
    },
    sendReset: (id, reason) => {
      if (!this.#isClosed) this.#queueFrame(FrameType.RESET, id, this.#encodePlain(describeError(reason)));
    },
    forget: (id) => {
      this.#streams.delete(id);
    },
  };

  #openStream(id: number): StreamProxy {
    const proxy = new StreamProxy(
      id,
      this.#streamWire,
      this.peerHello.streamWindow,
      this.#options.streamWindow,
    );
    this.#streams.set(id, proxy);
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
      const id = this.#allocateId();
      const state = this.#openChannel(id);
      created.push(() => this.#channels.delete(id));
      after.push(() => spliceChannels(value, state.end));
      return new Ref("channel", id);
    }
    if (value instanceof ByteStream) {
      const id = this.#allocateId();
      const proxy = this.#openStream(id);
      created.push(() => this.#streams.delete(id));
      after.push(() => spliceStreams(value, proxy.stream));
      return new Ref("stream", id);
    }
    if (value instanceof FileDescriptor) {
      const descriptors = this.#options.descriptors;
      if (descriptors === undefined || !this.peerHello.fds || !this.#transport.supportsFds) {
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
    this.#decodedAttachments = 0;
    if (this.#decodedFds.length > 0) this.#decodedFds = [];
    try {
      const codec = this.codec;
      return codec.decodeRegion !== undefined
        ? codec.decodeRegion(bytes, start, end, this.#decodeHooks)
        : codec.decode(payloadView(bytes, start, end), this.#decodeHooks);
    } catch (error) {
      // Descriptors already wrapped for the half-decoded message have no other way to close.
      for (const descriptor of this.#decodedFds) descriptor.close();
      this.#decodedFds = [];
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError("EDECODE", `undecodable message: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  /** How many attachments the message being decoded created (see `#keepAttachments`). */
  #decodedAttachments = 0;
  /** The descriptors among them. */
  #decodedFds: FileDescriptor[] = [];

  /**
   * A received message's descriptors belong to the channel they arrived on, as in one process:
   * one nobody takes closes with that channel or with the session (a reply's descriptors that
   * the caller never took once stayed open for good). Channels and streams need no owner here:
   * the session closes all of its own when it ends. On a channel that is gone, everything the
   * message created is closed at once. Returns whether the channel is there.
   */
  #keepAttachments(state: ChannelState | undefined, data: unknown): state is ChannelState {
    if (this.#decodedAttachments === 0) return state !== undefined;
    this.#decodedAttachments = 0;
    const fds = this.#decodedFds;
    if (fds.length > 0) this.#decodedFds = [];
    if (state === undefined) {
      closeAttachments(data, new ClosedError("channel"));
      return false;
    }
    for (const descriptor of fds) state.end.adopt(descriptor);
    return true;
  }

  #resolveRef(ref: Ref): unknown {
    this.#decodedAttachments += 1;
    switch (ref.kind) {
      case "channel": {
        if (!this.#isPeerId(ref.id) || this.#channels.has(ref.id)) {
          throw new ProtocolError("EREF", `channel reference ${ref.id} is not a new id of the peer`);
        }
        if (this.#channels.size >= this.#options.maxChannels) {
          throw new ProtocolError(
            "ELIMIT",
            `the peer opened more than ${this.#options.maxChannels} channels`,
          );
        }
        return this.#openChannel(ref.id).end;
      }
      case "stream": {
        if (!this.#isPeerId(ref.id) || this.#streams.has(ref.id)) {
          throw new ProtocolError("EREF", `stream reference ${ref.id} is not a new id of the peer`);
        }
        if (this.#streams.size >= this.#options.maxStreams) {
          throw new ProtocolError("ELIMIT", `the peer opened more than ${this.#options.maxStreams} streams`);
        }
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
        this.#decodedFds.push(descriptor);
        return descriptor;
      }
    }
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
    if (this.#outbox.frames === 0) return;
    const { chunks, fds } = this.#outbox.take();
    this.#transport.write(chunks, fds);
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
    const channels = [...this.#channels.values()];
    this.#channels.clear();
    this.#rootState = undefined;
    for (const state of channels) {
      for (const incoming of state.incoming.values()) incoming.cancel(error);
      state.end.peerClosed(error);
    }
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) stream.connectionLost(error);
    for (const fd of this.#receivedFds.drain()) this.#options.descriptors?.discard(fd);
    for (const fd of this.#outbox.clear()) this.#options.descriptors?.discard(fd);
    this.#resolveClosed(error);
  }
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
      this.connection.answer(this.channelId, this.requestId, true, value);
    }
  }

  reject(error: unknown): void {
    if (this.state.incoming.delete(this.requestId)) {
      this.connection.answer(this.channelId, this.requestId, false, error);
    }
  }

  cancel(reason: unknown): void {
    this.#cancellation?.cancel(reason);
  }
}
