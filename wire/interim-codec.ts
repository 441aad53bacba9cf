import { addExtension, Encoder } from "cbor-x";
import { Ref, type Codec, type RefHooks, type RefKind } from "../codecs/reference.js";
import { ByteStream } from "../hub/byte-stream.js";
import { Channel } from "../hub/channel.js";
import { FileDescriptor } from "../hub/file-descriptor.js";

/**
 * The session's CBOR codec until the `codecs/` layer lands its own: references are CBOR tag
 * 40_601 around `[kind, id]` (kind 0 channel, 1 stream, 2 fd). cbor-x matches extensions by
 * exact class, so each attachment class is registered; the hooks of the encode or decode in
 * progress sit in a module slot (encoding and decoding are synchronous).
 */
const TAG = 40_601;
const KINDS: RefKind[] = ["channel", "stream", "fd"];
let current: RefHooks | undefined;

function toRef(value: Channel | ByteStream | FileDescriptor | Ref): [number, number] {
  const ref = value instanceof Ref ? value : current?.toRef(value);
  if (ref === undefined)
    throw new Error(`a ${(value as Channel).refKind} cannot be encoded without reference hooks`);
  return [KINDS.indexOf(ref.kind), ref.id];
}

for (const Class of [Channel, ByteStream, FileDescriptor, Ref]) {
  addExtension({
    Class: Class as never,
    tag: TAG,
    encode: (value: unknown, encode: (data: unknown) => Uint8Array) => encode(toRef(value as Channel)),
    decode: (fields: unknown) => {
      const [kind, id] = fields as [number, number];
      const ref = new Ref(KINDS[kind] ?? "channel", id);
      return current ? current.fromRef(ref) : ref;
    },
  });
}

const encoder = new Encoder({ useRecords: false, mapsAsObjects: true, tagUint8Array: false });

export const interimCbor: Codec = {
  name: "cbor",
  contentType: "application/cbor",
  encode(value, hooks) {
    current = hooks;
    try {
      return encoder.encode(value);
    } finally {
      current = undefined;
    }
  },
  decode(bytes, hooks) {
    current = hooks;
    try {
      return plainBytes(encoder.decode(bytes));
    } finally {
      current = undefined;
    }
  },
};

/** cbor-x decodes byte strings as Node Buffers; messages carry plain Uint8Arrays everywhere. */
function plainBytes(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== "object" || depth > 64) return value;
  if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = plainBytes(value[i], depth + 1);
    return value;
  }
  if (Object.getPrototypeOf(value) === Object.prototype) {
    const record = value as Record<string, unknown>;
    for (const key in record) record[key] = plainBytes(record[key], depth + 1);
  }
  return value;
}
