// Mutators for fuzzing with inputs recorded from real traffic: byte-level edits (bit flips,
// interesting values, truncation, insertion, deletion, splicing from another sample) and
// frame-level edits of PROTOCOL.md frames (header fields set to boundary values, frames dropped,
// duplicated, reordered or taken from another session). All positions are drawn as naturals and
// taken modulo the input's length, so fast-check shrinks them towards the start.
import fc from "fast-check";
import { HEADER_SIZE } from "../../wire/frame.js";

/** u32 values that sit on some boundary a decoder may get wrong. */
export const INTERESTING_U32 = [
  0,
  1,
  2,
  3,
  4,
  7,
  8,
  0x7f,
  0x80,
  0xff,
  0x100,
  1023,
  1024,
  0x7fff,
  0x8000,
  0xffff,
  0x10000,
  1 << 20,
  (1 << 24) - 1,
  1 << 24,
  (1 << 24) + 1,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
];

const interestingU32 = fc.oneof(fc.constantFrom(...INTERESTING_U32), fc.nat({ max: 0xffffffff }));
const interestingByte = fc.oneof(
  fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0xff, 0x3a, 0x2c, 0x30, 0x39, 0x5b, 0x7b, 0x22, 0xd9, 0x9f, 0xbf),
  fc.nat({ max: 255 }),
);

type ByteEdit =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "set"; at: number; value: number }
  | { kind: "u32"; at: number; value: number }
  | { kind: "truncate"; at: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "delete"; at: number; length: number }
  | { kind: "duplicate"; at: number; length: number }
  | { kind: "splice"; at: number; other: number; from: number; length: number };

const byteEdit: fc.Arbitrary<ByteEdit> = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ kind: fc.constant("set" as const), at: fc.nat(), value: interestingByte }),
  fc.record({ kind: fc.constant("u32" as const), at: fc.nat(), value: interestingU32 }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), length: fc.integer({ min: 1, max: 16 }) }),
  fc.record({
    kind: fc.constant("duplicate" as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
  fc.record({
    kind: fc.constant("splice" as const),
    at: fc.nat(),
    other: fc.nat(),
    from: fc.nat(),
    length: fc.integer({ min: 1, max: 64 }),
  }),
);

/** Applies `edits` to a copy of `input`; `samples` are what a splice takes bytes from. */
export function applyByteEdits(
  input: Uint8Array,
  edits: readonly ByteEdit[],
  samples: readonly Uint8Array[],
): Uint8Array {
  let bytes: Uint8Array = Uint8Array.from(input);
  for (const edit of edits) {
    const at = bytes.length === 0 ? 0 : edit.at % (bytes.length + (edit.kind === "insert" ? 1 : 0));
    switch (edit.kind) {
      case "flip":
        if (bytes.length > 0) bytes[at] = bytes[at]! ^ (1 << edit.bit);
        break;
      case "set":
        if (bytes.length > 0) bytes[at] = edit.value;
        break;
      case "u32":
        if (bytes.length >= 4) {
          const where = at % (bytes.length - 3);
          new DataView(bytes.buffer, bytes.byteOffset).setUint32(where, edit.value);
        }
        break;
      case "truncate":
        bytes = bytes.slice(0, at);
        break;
      case "insert":
        bytes = concat([bytes.subarray(0, at), edit.bytes, bytes.subarray(at)]);
        break;
      case "delete":
        bytes = concat([bytes.subarray(0, at), bytes.subarray(at + edit.length)]);
        break;
      case "duplicate":
        bytes = concat([bytes.subarray(0, at + edit.length), bytes.subarray(at)]);
        break;
      case "splice": {
        const source = samples[edit.other % samples.length]!;
        const from = source.length === 0 ? 0 : edit.from % source.length;
        bytes = concat([
          bytes.subarray(0, at),
          source.subarray(from, from + edit.length),
          bytes.subarray(at),
        ]);
        break;
      }
    }
  }
  return bytes;
}

/** A sample from `samples` with 1 to `maxEdits` byte edits. */
export function mutatedBytes(samples: readonly Uint8Array[], maxEdits = 6): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: samples.length - 1 }), fc.array(byteEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([which, edits]) => applyByteEdits(samples[which]!, edits, samples));
}

/** Random bytes, mutations of `samples`, and samples cut short: what a decoder is fed. */
export function hostileBytes(samples: readonly Uint8Array[], maxLength = 4096): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: Math.min(maxLength, 256) }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength }) },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.nat({ max: samples.length - 1 }), fc.nat())
        .map(([which, at]) => samples[which]!.slice(0, at % (samples[which]!.length + 1))),
    },
    { weight: 5, arbitrary: mutatedBytes(samples) },
  );
}

// ---- frames ----------------------------------------------------------------------------------

/** Where each header field of a frame is, and its size. */
const HEADER_FIELDS = { length: [0, 4], type: [4, 1], flags: [5, 1], fds: [6, 2], id: [8, 4] } as const;

type FrameEdit =
  | { kind: "field"; frame: number; field: keyof typeof HEADER_FIELDS; value: number }
  | { kind: "payload"; frame: number; edits: ByteEdit[] }
  | { kind: "drop"; frame: number }
  | { kind: "duplicate"; frame: number }
  | { kind: "swap"; frame: number; with: number }
  | { kind: "foreign"; frame: number; session: number; which: number }
  | { kind: "cut"; at: number };

const FRAME_TYPES = [0x01, 0x02, 0x03, 0x04, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x20, 0x21, 0x22, 0x23];

const frameEdit: fc.Arbitrary<FrameEdit> = fc.oneof(
  fc.record({
    kind: fc.constant("field" as const),
    frame: fc.nat(),
    field: fc.constantFrom("length" as const, "fds" as const, "id" as const),
    value: interestingU32,
  }),
  fc.record({
    kind: fc.constant("field" as const),
    frame: fc.nat(),
    field: fc.constantFrom("type" as const, "flags" as const),
    value: fc.oneof(fc.constantFrom(...FRAME_TYPES), fc.nat({ max: 255 })),
  }),
  fc.record({
    kind: fc.constant("payload" as const),
    frame: fc.nat(),
    edits: fc.array(byteEdit, { minLength: 1, maxLength: 4 }),
  }),
  fc.record({ kind: fc.constant("drop" as const), frame: fc.nat() }),
  fc.record({ kind: fc.constant("duplicate" as const), frame: fc.nat() }),
  fc.record({ kind: fc.constant("swap" as const), frame: fc.nat(), with: fc.nat() }),
  fc.record({ kind: fc.constant("foreign" as const), frame: fc.nat(), session: fc.nat(), which: fc.nat() }),
  fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
);

/**
 * A recorded session (its frames, each a whole frame's bytes; the first is the HELLO) with
 * frame-level edits, as the bytes to send. The HELLO is kept in front unless an edit hits it, so
 * most inputs get past the handshake to the frames behind it.
 */
export function mutatedSession(
  sessions: readonly (readonly Uint8Array[])[],
  maxEdits = 4,
): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.nat({ max: sessions.length - 1 }), fc.array(frameEdit, { minLength: 1, maxLength: maxEdits }))
    .map(([which, edits]) => applyFrameEdits(sessions[which]!, edits, sessions));
}

export function applyFrameEdits(
  session: readonly Uint8Array[],
  edits: readonly FrameEdit[],
  sessions: readonly (readonly Uint8Array[])[],
): Uint8Array {
  const frames: Uint8Array[] = session.map((frame) => Uint8Array.from(frame));
  let cut: number | undefined;
  const pick = (n: number): number => n % frames.length;
  for (const edit of edits) {
    if (frames.length === 0) break;
    switch (edit.kind) {
      case "field": {
        const frame = frames[pick(edit.frame)]!;
        const [offset, size] = HEADER_FIELDS[edit.field];
        const view = new DataView(frame.buffer, frame.byteOffset);
        if (size === 4) view.setUint32(offset, edit.value >>> 0);
        else if (size === 2) view.setUint16(offset, edit.value & 0xffff);
        else view.setUint8(offset, edit.value & 0xff);
        break;
      }
      case "payload": {
        const index = pick(edit.frame);
        const frame = frames[index]!;
        const payload = applyByteEdits(frame.subarray(HEADER_SIZE), edit.edits, [
          frame.subarray(HEADER_SIZE),
        ]);
        const edited = concat([frame.subarray(0, HEADER_SIZE), payload]);
        // The header's length follows the payload: the edit is to the body, not the framing.
        new DataView(edited.buffer).setUint32(0, payload.length);
        frames[index] = edited;
        break;
      }
      case "drop":
        frames.splice(pick(edit.frame), 1);
        break;
      case "duplicate": {
        const index = pick(edit.frame);
        frames.splice(index, 0, Uint8Array.from(frames[index]!));
        break;
      }
      case "swap": {
        const [a, b] = [pick(edit.frame), pick(edit.with)];
        [frames[a], frames[b]] = [frames[b]!, frames[a]!];
        break;
      }
      case "foreign": {
        const other = sessions[edit.session % sessions.length]!;
        if (other.length > 0)
          frames.splice(pick(edit.frame), 0, Uint8Array.from(other[edit.which % other.length]!));
        break;
      }
      case "cut":
        cut = edit.at;
        break;
    }
  }
  const bytes = concat(frames);
  return cut === undefined ? bytes : bytes.slice(0, cut % (bytes.length + 1));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
