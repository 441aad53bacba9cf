import { cborCodec } from "./cbor.js";
import { jsonCodec } from "./json.js";
import { kvCodec } from "./kv.js";
import { msgpackCodec } from "./msgpack.js";
import type { Codec } from "./reference.js";

/**
 * The codecs that need no configuration, in the order a peer should prefer them when both sides
 * support several. protobuf is missing because it needs a schema (see `protobufCodec`).
 */
export const builtinCodecs: readonly Codec[] = [cborCodec, msgpackCodec, jsonCodec, kvCodec];

/** The built-in codec with this negotiation name, or undefined. */
export function codecByName(name: string): Codec | undefined {
  return builtinCodecs.find((codec) => codec.name === name);
}
