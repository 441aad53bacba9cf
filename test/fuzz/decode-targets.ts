// Every decoder a peer's bytes can reach, each as a check of one input: it must return or throw
// its own typed error (a DecodeError, KvDecodeError or ProtocolError), never a TypeError or
// RangeError from inside; where two paths decode the same bytes (a codec's decode and its
// in-place decodeRegion, a frame stream pushed whole or in pieces) they must agree.
import { isDeepStrictEqual } from "node:util";
import type { Ref } from "../../codecs/index.js";
import { DecodeError, type Codec, type RefHooks } from "../../codecs/index.js";
import { cborCodec, jsonCodec, kvCodec, msgpackCodec } from "../../codecs/index.js";
import { decodeKv, decodeKvChange, KvDecodeError, KvMessage, KvRecordDecoder } from "../../kv/index.js";
import { ProtocolError } from "../../wire/errors.js";
import { FrameDecoder, FrameType } from "../../wire/frame.js";
import { decodeHello } from "../../wire/hello.js";
import { corpusProtobuf } from "../codecs/corpus.js";

/** One fuzz input: the bytes, and where to cut them (for the decoders fed in pieces). */
export interface DecodeInput {
  bytes: Uint8Array;
  cuts: number[];
}

/** A decoder under test: checks one input, throwing a {@link Finding} when it misbehaves. */
export type DecodeTarget = (input: DecodeInput) => void;

/** What a fuzzer reports: the decoder misbehaved on this input. */
export class Finding extends Error {
  override name = "Finding";
}

/** Runs `decode`; an error that is not an instance of `allowed` is a finding. */
function typed<T>(
  what: string,
  allowed: abstract new (...args: never[]) => Error,
  decode: () => T,
): { ok: true; value: T } | { ok: false; error: Error } {
  try {
    return { ok: true, value: decode() };
  } catch (error) {
    if (error instanceof allowed) return { ok: false, error };
    throw new Finding(
      `${what} threw ${(error as Error)?.name ?? typeof error}: ${(error as Error)?.message ?? String(error)}`,
      {
        cause: error,
      },
    );
  }
}

/** Hooks as a session has them: every reference becomes an object of ours. */
const HOOKS: RefHooks = {
  toRef: () => {
    throw new Error("not encoding");
  },
  fromRef: (ref: Ref) => ({ attached: ref.kind, id: ref.id }),
};

function codecTarget(codec: Codec): DecodeTarget {
  return ({ bytes }) => {
    const plain = typed(`${codec.name}.decode`, DecodeError, () => codec.decode(bytes));
    typed(`${codec.name}.decode with hooks`, DecodeError, () => codec.decode(bytes, HOOKS));
    if (codec.decodeRegion === undefined) return;
    // In place, from the middle of a larger buffer, as a session reads a frame's body.
    const padded = new Uint8Array(bytes.length + 7).fill(0xa5);
    padded.set(bytes, 3);
    const region = typed(`${codec.name}.decodeRegion`, DecodeError, () =>
      codec.decodeRegion!(padded, 3, 3 + bytes.length),
    );
    if (plain.ok !== region.ok || (plain.ok && region.ok && !isDeepStrictEqual(plain.value, region.value))) {
      throw new Finding(
        `${codec.name}: decode and decodeRegion disagree: ${describe(plain)} vs ${describe(region)}`,
      );
    }
  };
}

function describe(outcome: { ok: true; value: unknown } | { ok: false; error: Error }): string {
  if (!outcome.ok) return `${outcome.error.name}: ${outcome.error.message}`;
  try {
    return JSON.stringify(outcome.value, (_key, value: unknown) =>
      typeof value === "bigint" ? `${value}n` : value,
    );
  } catch {
    return String(outcome.value);
  }
}

/** Pushes `bytes` to a record decoder in the pieces `cuts` make. */
function kvRecords({ bytes, cuts }: DecodeInput): void {
  const decoder = new KvRecordDecoder({ maxRecordLength: 1 << 16, maxLength: 1 << 16 });
  typed("KvRecordDecoder", KvDecodeError, () => {
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      decoder.push(bytes.subarray(from, Math.max(from, cut)));
      from = Math.max(from, cut);
    }
    decoder.end();
  });
}

/**
 * Frames pushed whole and in pieces (with and without DATA split across pieces) must give the
 * same frames, or the same ProtocolError code.
 */
function frameStream({ bytes, cuts }: DecodeInput): void {
  const maxFrameSize = 4096;
  for (const splitData of [false, true]) {
    const whole = typed("FrameDecoder", ProtocolError, () =>
      collect(new FrameDecoder(maxFrameSize, { splitData }), [bytes]),
    );
    const pieces: Uint8Array[] = [];
    let from = 0;
    for (const cut of [...cuts, bytes.length]) {
      pieces.push(bytes.slice(from, Math.max(from, cut)));
      from = Math.max(from, cut);
    }
    const split = typed("FrameDecoder in pieces", ProtocolError, () =>
      collect(new FrameDecoder(maxFrameSize, { splitData }), pieces),
    );
    if (whole.ok !== split.ok) {
      throw new Finding(
        `FrameDecoder (splitData ${splitData}): ${describe(whole)} whole but ${describe(split)} in pieces`,
      );
    }
    if (whole.ok && split.ok && !isDeepStrictEqual(whole.value, split.value)) {
      throw new Finding(`FrameDecoder: frames differ whole and in pieces (splitData ${splitData})`);
    }
    if (
      !whole.ok &&
      !split.ok &&
      (whole.error as ProtocolError).code !== (split.error as ProtocolError).code
    ) {
      throw new Finding(
        `FrameDecoder: ${(whole.error as ProtocolError).code} whole but ${(split.error as ProtocolError).code} in pieces`,
      );
    }
  }
}

/**
 * The frames in `pieces` as `type id fds hex`. Consecutive DATA frames of one stream are joined
 * (a run of stream bytes carries no meaning in how it is cut, PROTOCOL.md "Byte streams"), so
 * frames passed on in pieces compare equal to the same frames passed on whole.
 */
function collect(decoder: FrameDecoder, pieces: Uint8Array[]): string[] {
  const out: { type: number; id: number; fds: number; hex: string }[] = [];
  for (const piece of pieces) {
    decoder.feed(piece, {
      onFrame(type, fds, id, source, start, end) {
        const hex = Buffer.from(source.subarray(start, end)).toString("hex");
        const last = out.at(-1);
        if (type === FrameType.DATA && last?.type === FrameType.DATA && last.id === id && fds === 0) {
          last.hex += hex;
        } else {
          out.push({ type, id, fds, hex });
        }
      },
    });
  }
  return out.map(({ type, id, fds, hex }) => `${type} ${id} ${fds} ${hex}`);
}

export const DECODE_TARGETS: Record<string, DecodeTarget> = {
  cbor: codecTarget(cborCodec),
  json: codecTarget(jsonCodec),
  msgpack: codecTarget(msgpackCodec),
  kv: codecTarget(kvCodec),
  protobuf: codecTarget(corpusProtobuf),
  "kv message": ({ bytes }) => {
    typed("decodeKv", KvDecodeError, () => decodeKv(bytes, { maxLength: 1 << 16 }));
    typed("decodeKv canonical", KvDecodeError, () => decodeKv(bytes, { canonical: true }));
    typed("KvMessage.decode", KvDecodeError, () => KvMessage.decode(bytes));
  },
  "kv change": ({ bytes }) => {
    typed("decodeKvChange", KvDecodeError, () => decodeKvChange(bytes));
  },
  "kv records": kvRecords,
  frames: frameStream,
  hello: ({ bytes }) => {
    typed("decodeHello", ProtocolError, () => decodeHello(bytes));
  },
};
