/**
 * Message codecs: one {@link Codec} interface, with JSON, CBOR, MessagePack, protobuf and kv
 * implementations, each able to carry references to channels, byte streams and fds.
 *
 * @packageDocumentation
 */
export {
  Attachable,
  isRefId,
  MAX_REF_ID,
  Ref,
  REF_KIND_CODES,
  REF_KINDS,
  refKindOfCode,
} from "./reference.js";
export type { Codec, RefHooks, RefKind } from "./reference.js";
export { CodecError, DecodeError, EncodeError } from "./errors.js";
export { jsonCodec } from "./json.js";
export { CBOR_REF_TAG, cborCodec } from "./cbor.js";
export { MSGPACK_REF_TYPE, msgpackCodec } from "./msgpack.js";
export { addRefType, protobufCodec, REF_PROTO } from "./protobuf.js";
export type { ProtobufCodecOptions } from "./protobuf.js";
export { kvCodec } from "./kv.js";
export { builtinCodecs, codecByName } from "./registry.js";
