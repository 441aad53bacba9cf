import { BeamhubError } from "../base/error.js";

/** The three kinds of attachment a message can carry. */
export type RefKind = "channel" | "stream" | "fd";

/** An attachment as it travels: its kind and a session-local uint32 id. */
export class Ref {
  constructor(
    readonly kind: RefKind,
    readonly id: number,
  ) {}
}

/**
 * Base class of every hub object that travels as a reference (the hub's Channel, ByteStream
 * and FileDescriptor classes extend it).
 */
export abstract class Attachable {
  abstract readonly refKind: RefKind;
}

export interface RefHooks {
  /** Encoding met an Attachable: return the Ref to put on the wire (the session assigns ids). */
  toRef(value: Attachable): Ref;
  /** Decoding met a reference: return the object to put in its place. */
  fromRef(ref: Ref): unknown;
}

export interface Codec {
  readonly name: string;
  readonly contentType: string;
  encode(value: unknown, hooks?: RefHooks): Uint8Array;
  decode(bytes: Uint8Array, hooks?: RefHooks): unknown;
}

export { BeamhubError };
