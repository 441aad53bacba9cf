import { cborCodec } from "./cbor.js";
import { PreencodedCbor } from "./cbor-fast.js";

/**
 * A plain value whose CBOR encoding was made once, for a value that goes out unchanged in many
 * messages: the CBOR fast path (`cbor-fast.ts`) copies `bytes` where the value would be written,
 * byte for byte what encoding `value` there would give. The hub sends every call it routes to a
 * service in another process as `{data, service, caller, deadline}`; `service` and `caller` are
 * the same for every call of a registration and a calling session, and encoding them (a Unix
 * caller's identity has a dozen fields) was most of the hub's encoding work per routed call.
 *
 * Only the CBOR fast path knows this class, and only where it writes a plain object's property or
 * an array's item itself: put one directly into a plain object (or array) that goes to a session
 * whose codec is CBOR. The value must hold no channels, byte streams or descriptors (their
 * references are per session); the constructor refuses one, as a CBOR encode without hooks does.
 * `toJSON` gives the value, so a JSON encoder that meets one writes the value as well.
 *
 * @internal
 */
export class CborEncoded extends PreencodedCbor {
  /** The CBOR encoding of `value` (made now: later changes to `value` are not seen). */
  readonly bytes: Uint8Array;

  constructor(readonly value: unknown) {
    super();
    // cbor-x's bytes are the fast path's bytes (test/codecs/cbor-fast.test.ts); copied, since
    // cbor-x may return a view of a buffer it reuses.
    this.bytes = cborCodec.encode(value).slice();
  }

  toJSON(): unknown {
    return this.value;
  }
}
