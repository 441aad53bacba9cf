// Inputs shaped to hurt a decoder rather than drawn at random: nesting thousands deep (a
// recursive decoder overflows its stack), lengths that claim gigabytes (a trusting decoder
// allocates or waits), numbers far outside their field. Seeds for the mutators, per codec.
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text);
const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replaceAll(" ", ""), "hex"));
const repeat = (bytes: number[], times: number, tail: number[] = []): Uint8Array =>
  Uint8Array.from([...Array.from({ length: times }, () => bytes).flat(), ...tail]);

const DEEP = 20_000;

export const HOSTILE_SHAPES: Record<string, Uint8Array[]> = {
  cbor: [
    repeat([0x81], DEEP, [0x00]), // [[[...0]]]
    repeat([0x9f], DEEP), // indefinite arrays, never broken
    repeat([0xa1, 0x61, 0x61], DEEP, [0x00]), // {a:{a:...}}
    repeat([0xc6], DEEP, [0x00]), // tag 6 of tag 6 of ...
    repeat([0xd9, 0x9e, 0x99, 0x82, 0x00], 1000, [0x01]), // references nested in references
    hex("5b ffffffffffffffff"), // a byte string of 2^64-1 bytes
    hex("9b ffffffffffffffff"), // an array of 2^64-1 items
    hex("bb ffffffffffffffff"), // a map of 2^64-1 entries
    hex("7a ffffffff 61"), // a text of 2^32-1 bytes
    hex("d9 9e 99 82 00 1b ffffffffffffffff"), // a reference id of 2^64-1
    hex("a2 69 5f5f70726f746f5f5f a0 61 61 01"), // a __proto__ key
    hex("c2 5a 00100000"), // a bignum claiming a megabyte
  ],
  json: [
    utf8("[".repeat(DEEP) + "]".repeat(DEEP)),
    utf8('{"a":'.repeat(DEEP) + "1" + "}".repeat(DEEP)),
    utf8('{"$":'.repeat(2000) + '{"$channel":1}' + "}".repeat(2000)),
    utf8('{"$bigint":"' + "9".repeat(20_000) + '"}'),
    utf8('{"$bytes":"' + "QUFB".repeat(5000) + '"}'),
    utf8('{"__proto__":{"polluted":1},"constructor":{"prototype":{"x":1}}}'),
    utf8('{"$channel":4294967295,"$stream":1}'),
    utf8("1e999999"),
  ],
  msgpack: [
    repeat([0x91], DEEP, [0xc0]),
    repeat([0x81, 0xa1, 0x61], DEEP, [0xc0]),
    hex("dd ffffffff"),
    hex("df ffffffff"),
    hex("c6 ffffffff"),
    hex("db ffffffff"),
    hex("c9 ffffffff 68"),
    hex("d6 68 00 ff ff ff"),
  ],
  kv: [
    utf8("000;99999999999999:"),
    utf8("000;" + "1:a,".repeat(2000)),
    utf8("000;1:a,16777216:"),
    utf8("000;1:a," + "5:".repeat(2000)),
    utf8("000;" + "0".repeat(5000) + ":"),
  ],
  protobuf: [
    nestedProtobuf(2000),
    hex("10 ffffffffffffffffffffff01"), // an overlong varint
    hex("2a ffffffff0f"), // bytes claiming 4 GiB
    hex("5a ffffffff0f"), // a reference message claiming 4 GiB
  ],
};

/** `children` (field 9) nested `depth` deep, built inside out. */
function nestedProtobuf(depth: number): Uint8Array {
  let inner = new Uint8Array(0);
  for (let i = 0; i < depth; i++) {
    const length = varint(inner.length);
    const next = new Uint8Array(1 + length.length + inner.length);
    next[0] = 0x4a;
    next.set(length, 1);
    next.set(inner, 1 + length.length);
    inner = next;
  }
  return inner;
}

function varint(value: number): Uint8Array {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return Uint8Array.from(out);
}
