import type { Codec, EncodedRegion, RefHooks } from "../codecs/reference.js";
import { InvalidMessageError } from "../model/errors.js";

/** A shared body holds plain data only: a reference in it could name one session's id, not all. */
const NO_REFERENCES: RefHooks = {
  toRef: (value) => {
    throw new InvalidMessageError(`a message encoded once for many sessions cannot carry a ${value.refKind}`);
  },
  fromRef: (ref) => ref,
  bareRef: (ref) => {
    throw new InvalidMessageError(
      `a message encoded once for many sessions holds a bare reference (${ref.toString()})`,
    );
  },
};

/**
 * Message data sent as the same bytes on many sessions (a pub/sub message to every subscriber):
 * encoded once per codec, on the first session that sends it, and copied as bytes by the rest.
 * The hub encoded a publication once per subscribing session before (100 subscribers, 100
 * encodes of one message); sessions agree on one or two codecs, so this is one or two encodes.
 * Only data without channels, streams or descriptors can be shared (their ids are per session).
 */
export class EncodedOnce {
  #codec: Codec | undefined;
  #region: EncodedRegion | undefined;
  /** Regions for further codecs, rarely more than one (JSON next to CBOR). */
  #others: Map<Codec, EncodedRegion> | undefined;

  constructor(readonly value: unknown) {}

  /** The bytes of `value` in `codec` (encoded now if no session on that codec sent it yet). */
  encodedWith(codec: Codec): EncodedRegion {
    if (codec === this.#codec) return this.#region!;
    let region = this.#others?.get(codec);
    if (region !== undefined) return region;
    // Copied: a codec may return a view of a buffer it reuses (cbor-x's, which the session
    // encoders' in-place path writes over), and these bytes are kept for later sessions.
    const bytes = codec.encode(this.value, NO_REFERENCES).slice();
    region = { bytes, start: 0, end: bytes.byteLength };
    if (this.#codec === undefined) {
      this.#codec = codec;
      this.#region = region;
    } else (this.#others ??= new Map()).set(codec, region);
    return region;
  }
}
