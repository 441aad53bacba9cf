// How attachments travel inside messages. A message is structured data in which reply
// channels, byte streams and file descriptors may appear anywhere as values; every codec writes
// them as references (a kind and a session-local id) and the session maps references to live
// objects on both sides through RefHooks.
import { CodecError, DecodeError, EncodeError } from "./errors.js";

/** The kinds of attachment a message can carry. */
export const REF_KINDS = ["channel", "stream", "fd"] as const;

/** The kind of an attachment: a reply channel, a bidirectional byte stream, or a file descriptor. */
export type RefKind = (typeof REF_KINDS)[number];

/**
 * Wire code of each kind in the binary encodings (CBOR, MessagePack): 0 channel, 1 stream,
 * 2 fd, as in the session protocol (PROTOCOL.md). protobuf's `beamhub.Ref.Kind` enum numbers are
 * these codes plus one, since proto3 enums reserve 0 for "unspecified".
 */
export const REF_KIND_CODES: Readonly<Record<RefKind, number>> = { channel: 0, stream: 1, fd: 2 };

const KIND_OF_CODE: readonly RefKind[] = ["channel", "stream", "fd"];

/** The kind with wire code `code`, or undefined. */
export function refKindOfCode(code: unknown): RefKind | undefined {
  return typeof code === "number" ? KIND_OF_CODE[code] : undefined;
}

/** The largest reference id: ids are uint32. */
export const MAX_REF_ID = 0xffffffff;

/** Whether `id` is a valid reference id (an integer in 0..2^32-1). */
export function isRefId(id: unknown): id is number {
  return typeof id === "number" && Number.isInteger(id) && id >= 0 && id <= MAX_REF_ID;
}

/**
 * Common base of {@link Ref} and {@link Attachable}, so that codecs find either with a single
 * `instanceof` (cbor-x and msgpackr match extension classes with `instanceof`, which also
 * matches every subclass the hub defines).
 *
 * @internal
 */
export abstract class Referable {}

/** An attachment as it travels: its kind and a session-local uint32 id. */
export class Ref extends Referable {
  constructor(
    readonly kind: RefKind,
    readonly id: number,
  ) {
    super();
    if (!REF_KINDS.includes(kind))
      throw new CodecError("EREF", `invalid reference kind ${JSON.stringify(kind)}`);
    if (!isRefId(id)) throw new CodecError("EREF", `invalid reference id ${String(id)}: must be a uint32`);
  }

  /** Whether `other` refers to the same attachment. */
  equals(other: Ref): boolean {
    return other.kind === this.kind && other.id === this.id;
  }

  override toString(): string {
    return `${this.kind}#${this.id}`;
  }

  /** The JSON codec's form, so that even a plain JSON.stringify shows a reference as such. */
  toJSON(): Record<string, number> {
    return { [`$${this.kind}`]: this.id };
  }
}

/**
 * Base class of every hub object that travels as a reference (the hub's Channel, ByteStream and
 * FileDescriptor classes extend it).
 */
export abstract class Attachable extends Referable {
  abstract readonly refKind: RefKind;
}

/** How a session turns attachments into references and back. */
export interface RefHooks {
  /** Encoding met an Attachable: return the Ref to put on the wire (the session assigns ids). */
  toRef(value: Attachable): Ref;
  /** Decoding met a reference: return the object to put in its place. */
  fromRef(ref: Ref): unknown;
  /**
   * Encoding met a bare {@link Ref} (a reference nobody allocated through `toRef`). Without this
   * hook it is written as is; a session refuses it here, since a reference it did not allocate
   * would name an id the peer never learnt of (or one of the peer's own).
   */
  bareRef?(ref: Ref): Ref;
}

/** A message encoding. */
export interface Codec {
  /** Negotiation id: "json" | "cbor" | "msgpack" | "protobuf" | "kv". */
  readonly name: string;
  /** MIME type of the encoding, e.g. "application/cbor". */
  readonly contentType: string;
  /**
   * Encodes a message. Without hooks, a {@link Ref} is written as a reference and an
   * {@link Attachable} throws {@link EncodeError}; with hooks, attachments go through
   * `hooks.toRef`.
   */
  encode(value: unknown, hooks?: RefHooks): Uint8Array;
  /**
   * Decodes a message. References become {@link Ref} instances, or whatever `hooks.fromRef`
   * returns. Malformed input throws {@link DecodeError}.
   */
  decode(bytes: Uint8Array, hooks?: RefHooks): unknown;
  /**
   * Optional, for the per-message path of a session: encodes like {@link encode} without
   * allocating. With `target`, the bytes go into `target` from `offset` on when they fit before
   * its end (a session passes the free space of its outgoing batch, so a message is encoded in
   * place); otherwise, or without `target`, into a buffer the codec reuses. The result says where
   * they are: `bytes[start, end)`, valid until the codec's next encode. Bytes of `target` past
   * `offset` may be written either way.
   */
  encodeTransient?(value: unknown, hooks?: RefHooks, target?: Uint8Array, offset?: number): EncodedRegion;
  /**
   * Optional: decodes `bytes[start, end)` like {@link decode} does a view of it. The result
   * never refers to `bytes` (so the caller may reuse them), which lets a codec copy small
   * inputs to a buffer of its own instead of making a view per message.
   */
  decodeRegion?(bytes: Uint8Array, start: number, end: number, hooks?: RefHooks): unknown;
  /**
   * Optional, for a hub that only routes a message: decodes `bytes[start, end)` like
   * {@link decodeRegion}, except that the values of the top-level map keys in `fields` — or, with
   * `fields` undefined, the whole message — are kept as the bytes it came in (an object this
   * codec's encoders write back byte for byte), where those bytes hold no reference and nothing
   * else the codec cannot vouch for; otherwise that part is decoded as usual.
   *
   * @internal
   */
  decodeKeeping?(
    bytes: Uint8Array,
    start: number,
    end: number,
    fields: readonly string[] | undefined,
    hooks?: RefHooks,
  ): unknown;
}

/** Where {@link Codec.encodeTransient} left a message: `bytes[start, end)`. */
export interface EncodedRegion {
  readonly bytes: Uint8Array;
  readonly start: number;
  readonly end: number;
}

/**
 * The reference to write for `value` (a Ref, or an Attachable resolved through `hooks`).
 *
 * @internal
 */
export function toWireRef(value: Referable, hooks: RefHooks | undefined): Ref {
  if (value instanceof Ref) return hooks?.bareRef === undefined ? value : hooks.bareRef(value);
  const kind = (value as Attachable).refKind;
  if (hooks === undefined) {
    throw new EncodeError(
      `cannot encode a ${kind} without RefHooks: attachments get their ids from a session`,
    );
  }
  const ref = hooks.toRef(value as Attachable);
  if (!(ref instanceof Ref) || ref.kind !== kind) {
    throw new EncodeError(
      `RefHooks.toRef returned ${String(ref)} for a ${kind}: expected a Ref of that kind`,
    );
  }
  return ref;
}

/**
 * The value to put where the wire holds a reference with kind code `code` and id `id`:
 * validates both (a {@link DecodeError} if invalid) and applies `hooks.fromRef`.
 *
 * @internal
 */
export function fromWireRef(kind: RefKind | undefined, id: unknown, hooks: RefHooks | undefined): unknown {
  if (kind === undefined) throw new DecodeError("invalid reference kind");
  if (!isRefId(id)) throw new DecodeError(`invalid reference id ${String(id)}: must be a uint32`);
  const ref = new Ref(kind, id);
  return hooks === undefined ? ref : hooks.fromRef(ref);
}
