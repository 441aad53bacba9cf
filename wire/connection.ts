import { Ref, type Attachable, type Codec, type RefHooks } from "../codecs/reference.js";
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
  decodeU32,
  encodeFrame,
  encodeHeader,
  encodeMessageFrame,
  encodeU32,
  frameTypeName,
  FrameDecoder,
  FrameType,
  splitRequestId,
  withRequestId,
  type Frame,
} from "./frame.js";
import { decodeHello, encodeHello, PROTOCOL_NAME, PROTOCOL_VERSION, type Hello } from "./hello.js";
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
  outgoing: Map<number, ReplySink>;
  /** Requests we received and have not answered, by request id. */
  incoming: Map<number, WireIncoming>;
}

/** Frames queued before a batch is written without waiting for the end of the turn. */
const FLUSH_EVERY_FRAMES = 16;

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
 * messages. Frames are written in batches (one write per turn of the event loop), which is what
 * makes small messages cheap.
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
  #outgoing: Uint8Array[] = [];
  #outgoingFds: number[] = [];
  #flushScheduled = false;
  #failure: Error | undefined;
  #isClosed = false;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  #resolveClosed!: (error: Error | undefined) => void;
  #frameFds: number[] = [];

  constructor(transport: ByteTransport, options: ConnectionOptions) {
    this.#transport = transport;
    this.#options = { ...DEFAULTS, ...options };
    this.#decoder = new FrameDecoder(this.#options.maxFrameSize);
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
    this.#queue(
      encodeFrame(
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
      ),
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
      for (const frame of this.#decoder.push(chunk)) this.#dispatch(frame);
    } catch (error) {
      this.#protocolFailure(error);
    }
  }

  #dispatch(frame: Frame): void {
    if (this.peerHello === undefined && frame.type !== FrameType.HELLO) {
      throw new ProtocolError("EHELLO", `expected HELLO first, got ${frameTypeName(frame.type)}`);
    }
    this.#frameFds = [];
    if (frame.fdCount > 0) {
      if (this.#receivedFds.length < frame.fdCount) {
        throw new ProtocolError(
          "EFD_MISSING",
          `${frameTypeName(frame.type)} frame declares ${frame.fdCount} fds but ${this.#receivedFds.length} arrived`,
        );
      }
      for (let i = 0; i < frame.fdCount; i++) this.#frameFds.push(this.#receivedFds.shift()!);
    }
    try {
      this.#handle(frame);
    } finally {
      // fds a frame declared but no reference used are closed, never leaked.
      for (const fd of this.#frameFds) if (fd >= 0) this.#options.descriptors?.discard(fd);
      this.#frameFds = [];
    }
  }

  #handle(frame: Frame): void {
    switch (frame.type) {
      case FrameType.HELLO:
        return this.#onHello(frame);
      case FrameType.GOAWAY:
        return this.#onGoaway(frame);
      case FrameType.PING:
        return this.#queue(encodeFrame(FrameType.PONG, 0, frame.payload));
      case FrameType.PONG:
        return;
      case FrameType.EVENT: {
        const state = this.#channels.get(frame.id);
        const data = this.#decode(frame.payload);
        if (state !== undefined) void state.end.deliverEvent(data);
        return;
      }
      case FrameType.REQUEST:
        return this.#onRequest(frame);
      case FrameType.REPLY:
      case FrameType.FAIL:
        return this.#onAnswer(frame);
      case FrameType.CANCEL: {
        const { requestId } = splitRequestId(frame);
        const state = this.#channels.get(frame.id);
        const incoming = state?.incoming.get(requestId);
        state?.incoming.delete(requestId);
        incoming?.cancel(new CallAbortedError("channel", "the requester stopped waiting"));
        return;
      }
      case FrameType.CLOSE: {
        const state = this.#channels.get(frame.id);
        if (state === undefined) return;
        this.#channels.delete(frame.id);
        const reason =
          frame.payload.byteLength > 0 ? rebuildError(this.#decode(frame.payload) as WireError) : undefined;
        for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
        state.end.peerClosed(reason);
        return;
      }
      case FrameType.DATA:
        this.#streams.get(frame.id)?.onData(frame.payload);
        return;
      case FrameType.WINDOW: {
        if (frame.payload.byteLength !== 4)
          throw new ProtocolError("EFRAME", "WINDOW payload must be 4 bytes");
        const increment = decodeU32(frame.payload);
        this.#streams.get(frame.id)?.onWindow(increment);
        return;
      }
      case FrameType.END:
        this.#streams.get(frame.id)?.onEnd();
        return;
      case FrameType.RESET: {
        const stream = this.#streams.get(frame.id);
        if (stream === undefined) return;
        const reason =
          frame.payload.byteLength > 0 ? rebuildError(this.#decode(frame.payload) as WireError) : undefined;
        stream.onReset(reason);
        return;
      }
    }
  }

  #onHello(frame: Frame): void {
    if (this.peerHello !== undefined) throw new ProtocolError("EHELLO", "a second HELLO");
    const hello = decodeHello(frame.payload);
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

  #onGoaway(frame: Frame): void {
    let info: { code?: string; message?: string } = {};
    try {
      info = JSON.parse(new TextDecoder().decode(frame.payload)) as typeof info;
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

  #onRequest(frame: Frame): void {
    const { requestId, body } = splitRequestId(frame);
    const data = this.#decode(body);
    const state = this.#channels.get(frame.id);
    if (state === undefined) {
      // The channel closed while the request was in flight: answer so the requester stops.
      if (!this.#isClosed)
        this.#sendMessage(FrameType.FAIL, frame.id, describeError(new ClosedError("channel")), requestId);
      return;
    }
    const sink = new WireIncoming(this, state, frame.id, requestId);
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

  #onAnswer(frame: Frame): void {
    const { requestId, body } = splitRequestId(frame);
    const state = this.#channels.get(frame.id);
    const sink = state?.outgoing.get(requestId);
    if (sink === undefined) return; // cancelled or timed out meanwhile
    state!.outgoing.delete(requestId);
    const value = this.#decode(body);
    if (frame.type === FrameType.REPLY) sink.resolve(value);
    else sink.reject(rebuildError(value as WireError));
  }

  // ---- channels and streams ----------------------------------------------------------------

  #openChannel(id: number): ChannelState {
    const state: ChannelState = { end: undefined!, outgoing: new Map(), incoming: new Map() };
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
          this.#queue(encodeFrame(FrameType.CANCEL, id, withRequestId(requestId)));
        }
      },
      close: (reason) => {
        if (this.#channels.get(id) !== state) return;
        this.#channels.delete(id);
        for (const incoming of state.incoming.values()) incoming.cancel(new ClosedError("channel", reason));
        if (!this.#isClosed) {
          const body = reason === undefined ? EMPTY : this.#encodePlain(describeError(reason));
          this.#queue(encodeFrame(FrameType.CLOSE, id, body));
        }
      },
    });
    this.#channels.set(id, state);
    return state;
  }

  #streamWire: StreamWire = {
    maxData: DEFAULTS.maxDataFrame,
    sendData: (id, chunk) => {
      if (this.#isClosed) return;
      // Header and bytes go out as two chunks of one writev: stream bytes are never copied.
      this.#queue(encodeHeader(FrameType.DATA, id, chunk.byteLength));
      this.#outgoing.push(chunk);
    },
    sendWindow: (id, increment) => {
      if (this.#isClosed) return;
      this.#queue(encodeFrame(FrameType.WINDOW, id, encodeU32(increment)));
    },
    sendEnd: (id) => {
      if (!this.#isClosed) this.#queue(encodeFrame(FrameType.END, id));
    },
    sendReset: (id, reason) => {
      if (!this.#isClosed)
        this.#queue(encodeFrame(FrameType.RESET, id, this.#encodePlain(describeError(reason))));
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
  #sendMessage(type: number, id: number, data: unknown, requestId?: number): void {
    if (this.#isClosed) throw new ClosedError("session", this.#failure);
    // The encode hooks are made once per connection; what one message attaches is collected
    // in `#attaching`, made only when a message has attachments (encoding is synchronous, so
    // messages cannot interleave).
    this.#attaching = undefined;
    let body: Uint8Array;
    let conversions: ConvertedDescriptor[] | undefined;
    try {
      try {
        body = this.codec.encode(data, this.#encodeHooks);
      } catch (error) {
        if (error !== CONVERT_DESCRIPTORS && (error as Error)?.cause !== CONVERT_DESCRIPTORS) throw error;
        // The message carries descriptors that cannot travel here: send them as byte streams.
        this.#undoAttaching();
        conversions = [];
        const converted = replaceDescriptors(data, conversions);
        this.#replacingDescriptors = true;
        try {
          body = this.codec.encode(converted, this.#encodeHooks);
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
    }
    const size = body.byteLength + (requestId === undefined ? 0 : 4);
    const limit = this.peerHello.maxFrameSize;
    if (size > limit) {
      this.#undoAttaching();
      throw new InvalidMessageError(
        `message of ${size} bytes exceeds the peer's frame size limit of ${limit} bytes`,
      );
    }
    const attaching = this.#takeAttaching();
    if (attaching === undefined) {
      this.#queue(encodeMessageFrame(type, id, body, requestId, 0));
      return;
    }
    const fds = attaching.fds;
    this.#queue(encodeMessageFrame(type, id, body, requestId, fds.length), fds.length > 0 ? fds : undefined);
    for (const start of attaching.after) start();
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

  #decode(body: Uint8Array): unknown {
    try {
      return this.codec.decode(body, this.#decodeHooks);
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw new ProtocolError("EDECODE", `undecodable message: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  #resolveRef(ref: Ref): unknown {
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
        return this.#options.descriptors.fromFd(fd);
      }
    }
  }

  /** Encodes data that carries no references (errors, close reasons). */
  #encodePlain(value: unknown): Uint8Array {
    return this.codec.encode(value);
  }

  #sendJson(type: number, value: unknown): void {
    this.#queue(encodeFrame(type, 0, new TextEncoder().encode(JSON.stringify(value))));
  }

  // ---- writing -----------------------------------------------------------------------------

  #queue(frame: Uint8Array, fds?: number[]): void {
    if (this.#isClosed) {
      for (const fd of fds ?? []) this.#options.descriptors?.discard(fd);
      return;
    }
    if (fds !== undefined && fds.length > 0) {
      // fds ride with the first byte of a batch; a batch with fds starts at this frame.
      if (this.#outgoing.length > 0) this.#flush();
      this.#outgoingFds.push(...fds);
    }
    this.#outgoing.push(frame);
    if (this.#outgoing.length >= FLUSH_EVERY_FRAMES) {
      // A long burst (replies to a batch of requests) goes out in slices, so that the peer
      // starts on the first ones while this side produces the rest: both processes work at
      // once instead of taking turns.
      this.#flush();
      this.#transport.flush?.();
      return;
    }
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#outgoing.length === 0) return;
    const chunks = this.#outgoing;
    const fds = this.#outgoingFds;
    this.#outgoing = [];
    this.#outgoingFds = [];
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
    for (const state of channels) {
      for (const incoming of state.incoming.values()) incoming.cancel(error);
      state.end.peerClosed(error);
    }
    const streams = [...this.#streams.values()];
    this.#streams.clear();
    for (const stream of streams) stream.connectionLost(error);
    for (const fd of this.#receivedFds.drain()) this.#options.descriptors?.discard(fd);
    for (const fd of this.#outgoingFds) this.#options.descriptors?.discard(fd);
    this.#outgoingFds = [];
    this.#outgoing = [];
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
