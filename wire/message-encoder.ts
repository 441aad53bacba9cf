import { Ref, type Attachable, type Codec, type EncodedRegion, type RefHooks } from "../codecs/reference.js";
import { FdUnavailableError } from "../fd/errors.js";
import { ByteStream } from "../model/byte-stream.js";
import { Channel } from "../model/channel.js";
import { InvalidMessageError } from "../model/errors.js";
import { FileDescriptor } from "../model/file-descriptor.js";
import type { ChannelState, ChannelTable } from "./channel-table.js";
import type { DescriptorCodec } from "./config.js";
import { checkConvertible, replaceDescriptors, type ConvertedDescriptor } from "./descriptor-stream.js";
import { LimitExceededError } from "./errors.js";
import { EncodedOnce } from "./encoded-once.js";
import { EMPTY } from "./frame.js";
import type { Hello } from "./hello.js";
import type { Outbox } from "./outbox.js";
import type { SessionIds } from "./session-ids.js";
import { spliceChannels, spliceStreams } from "./splice.js";
import type { StreamProxy } from "./stream-proxy.js";
import type { StreamTable } from "./stream-table.js";

/**
 * How descriptors in messages travel on a session: as fds (`"fds"`), replaced by byte streams
 * (`"convert"`), or not at all (`"refuse"`: the message fails with `FdUnavailableError`).
 */
export type DescriptorMode = "fds" | "convert" | "refuse";

/** What the encoder needs from its session to attach channels and streams. */
export interface EncoderSession {
  readonly ids: SessionIds;
  readonly channels: ChannelTable;
  readonly streams: StreamTable;
  /** Opens the state of a channel of a new id of this side. */
  openChannel(id: number): ChannelState;
  /** Opens the proxy of a stream of a new id of this side. */
  openStream(id: number): StreamProxy;
}

/** What the message being encoded attaches. */
export interface Attaching {
  /** Splices to start once the message's frame is queued. */
  after: (() => void)[];
  /** Undoes what was opened, if the message is not sent. */
  created: (() => void)[];
  /** fds the frame carries, in reference order. */
  fds: number[];
  /** Why the message cannot be sent (the first attachment that could not travel). */
  failure: Error | undefined;
  /** Whether a descriptor must be replaced by a byte stream (`"convert"` mode). */
  convert: boolean;
}

/** What a reference is encoded as when the message will not be sent as encoded, by kind. */
const PLACEHOLDERS = {
  channel: new Ref("channel", 0),
  stream: new Ref("stream", 0),
  fd: new Ref("fd", 0),
} as const;

/**
 * Encodes message data for one session, turning its attachments into references (PROTOCOL.md
 * "Message bodies"): a channel or byte stream gets a new id of this side, a descriptor an fd
 * index or — where fds cannot travel — a byte stream. Nothing an attachment opens is spliced
 * until the frame is queued (`Attaching.after`), so the peer always learns of a channel or stream
 * before the first frame that uses it; a message that fails leaves nothing open.
 *
 * Attachments that cannot travel are noted while the codec runs rather than thrown through it:
 * the encoder then re-encodes with descriptors replaced by streams, or fails with the noted
 * error. (Throwing from the hooks made the codec unwind, and codecs may wrap what they catch.)
 */
export class MessageEncoder {
  /** The session codec (set once the HELLOs agreed on it). */
  codec!: Codec;
  /** What the peer announced (set at the handshake). */
  peerHello!: Hello;
  /** How descriptors travel (set once the peer's HELLO said whether it takes fds). */
  descriptorMode: DescriptorMode = "refuse";

  /** What the message being encoded attaches; made only when it has attachments. */
  #attaching: Attaching | undefined;
  /** True while message data is being encoded: user code run by the codec cannot send. */
  #encoding = false;
  /** True while a message is encoded again with its descriptors replaced by byte streams. */
  #converting = false;
  /** Where `#encodeOnce` puts the bytes of a codec that cannot encode in place. */
  readonly #region: { bytes: Uint8Array; start: number; end: number } = { bytes: EMPTY, start: 0, end: 0 };

  constructor(
    private readonly session: EncoderSession,
    private readonly outbox: Outbox,
    private readonly descriptors: DescriptorCodec | undefined,
  ) {}

  /**
   * Encodes `data`, into the outbox's slab at `at` when the codec can and it fits; the bytes
   * are valid until the next encode. What it attaches waits in `take()`; on failure everything
   * is undone and a typed error thrown.
   */
  encode(data: unknown, at: number): EncodedRegion {
    if (this.#encoding) {
      // Only user code run by the encoder (a getter in the data) can get here.
      throw new InvalidMessageError("a message cannot be sent while another one is being encoded");
    }
    // Encoding is synchronous, so messages cannot interleave: one `#attaching` serves all.
    this.#attaching = undefined;
    let conversions: ConvertedDescriptor[] | undefined;
    this.#encoding = true;
    try {
      // Shared bytes (a pub/sub message to many sessions): nothing to attach, nothing to encode.
      if (data instanceof EncodedOnce) return data.encodedWith(this.codec);
      let body = this.#encodeOnce(data, at);
      let attaching = this.#attaching as Attaching | undefined;
      if (attaching?.failure !== undefined) throw attaching.failure;
      if (attaching?.convert === true) {
        // The message carries descriptors that cannot travel here: send them as byte streams.
        this.undo();
        conversions = [];
        const converted = replaceDescriptors(data, conversions);
        this.#converting = true;
        try {
          body = this.#encodeOnce(converted, at);
        } finally {
          this.#converting = false;
        }
        attaching = this.#attaching as Attaching | undefined;
        if (attaching?.failure !== undefined) throw attaching.failure;
        attaching = this.#attaching ??= newAttaching();
        for (const conversion of conversions) {
          attaching.created.push(conversion.undo);
          attaching.after.push(conversion.start);
        }
        conversions = undefined;
      }
      return body;
    } catch (error) {
      this.undo();
      for (const conversion of conversions ?? []) conversion.undo();
      throw error instanceof Error && error.name !== "Error"
        ? error
        : new InvalidMessageError(`message data cannot be encoded: ${(error as Error).message}`);
    } finally {
      this.#encoding = false;
    }
  }

  /** Takes what the message just encoded attaches (to start after its frame is queued). */
  take(): Attaching | undefined {
    const attaching = this.#attaching;
    this.#attaching = undefined;
    return attaching;
  }

  /** The message just encoded is not sent: closes what it opened and the fds it took. */
  undo(): void {
    const attaching = this.take();
    if (attaching === undefined) return;
    for (const undo of attaching.created) undo();
    for (const fd of attaching.fds) this.descriptors?.discard(fd);
  }

  #encodeOnce(data: unknown, at: number): EncodedRegion {
    const codec = this.codec;
    if (codec.encodeTransient !== undefined) {
      return codec.encodeTransient(data, this.#hooks, this.outbox.slab, at);
    }
    const bytes = codec.encode(data, this.#hooks);
    const region = this.#region;
    region.bytes = bytes;
    region.start = 0;
    region.end = bytes.byteLength;
    return region;
  }

  readonly #hooks: RefHooks = {
    toRef: (value: Attachable) => this.#attach(value, (this.#attaching ??= newAttaching())),
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

  #attach(value: Attachable, attaching: Attaching): Ref {
    // The message will not go out as encoded: nothing more is opened for it.
    if (attaching.failure !== undefined || attaching.convert) return PLACEHOLDERS[value.refKind];
    try {
      if (value instanceof Channel) return this.#attachChannel(value, attaching);
      if (value instanceof ByteStream) return this.#attachStream(value, attaching);
      if (value instanceof FileDescriptor) return this.#attachDescriptor(value, attaching);
      throw new InvalidMessageError(`cannot send a ${value.refKind} reference of an unknown class`);
    } catch (error) {
      attaching.failure = error as Error;
      return PLACEHOLDERS[value.refKind];
    }
  }

  #attachChannel(value: Channel, attaching: Attaching): Ref {
    const { channels, ids } = this.session;
    const peerHello = this.peerHello;
    const limit = peerHello.maxChannels;
    if (limit !== undefined && channels.ownCount >= limit) {
      throw new LimitExceededError(
        "maxChannels",
        `the peer keeps at most ${limit} channels open that this side opened; ${channels.ownCount} are`,
      );
    }
    const id = ids.allocate();
    const state = this.session.openChannel(id);
    if (value.keepOnWire !== undefined) state.keep = value.keepOnWire;
    attaching.created.push(() => channels.forget(id));
    attaching.after.push(() => spliceChannels(value, state.end));
    return new Ref("channel", id);
  }

  #attachStream(value: ByteStream, attaching: Attaching): Ref {
    const { streams, ids } = this.session;
    const peerHello = this.peerHello;
    const limit = peerHello.maxStreams;
    if (limit !== undefined && streams.ownCount >= limit) {
      throw new LimitExceededError(
        "maxStreams",
        `the peer keeps at most ${limit} byte streams open that this side opened; ${streams.ownCount} are`,
      );
    }
    const id = ids.allocate();
    const proxy = this.session.openStream(id);
    attaching.created.push(() => streams.forget(id));
    attaching.after.push(() => spliceStreams(value, proxy.stream));
    return new Ref("stream", id);
  }

  #attachDescriptor(value: FileDescriptor, attaching: Attaching): Ref {
    switch (this.descriptorMode) {
      case "fds":
        attaching.fds.push(this.descriptors!.toFd(value));
        return new Ref("fd", attaching.fds.length - 1);
      case "refuse":
        // Nothing was taken: the descriptor stays the sender's.
        throw new FdUnavailableError(
          this.peerHello.fds
            ? `this side cannot pass a file descriptor (kind "${value.kind}") on this connection`
            : `the peer's HELLO said fds: false, so a file descriptor (kind "${value.kind}") cannot be sent to it`,
        );
      case "convert":
        // A socket goes as a byte stream, a regular file as its content (PROTOCOL.md,
        // "Descriptors on network transports"); anything else cannot travel.
        checkConvertible(value);
        if (this.#converting) {
          throw new InvalidMessageError(
            "a file descriptor inside an object that is not plain data cannot travel on this connection",
          );
        }
        attaching.convert = true;
        return PLACEHOLDERS.fd;
    }
  }
}

function newAttaching(): Attaching {
  return { after: [], created: [], fds: [], failure: undefined, convert: false };
}
