// The frame decoder under arbitrary splitting: however the bytes of a sequence of frames are cut
// into chunks, the same frames come out, in order, and nothing is left pending.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { encodeFrame, FrameDecoder, FrameType, type FrameTypeCode } from "../../wire/frame.js";
import { ProtocolError } from "../../wire/errors.js";

const frameArbitrary = fc.record({
  type: fc.constantFrom(FrameType.EVENT, FrameType.DATA, FrameType.CLOSE, FrameType.PING),
  id: fc.integer({ min: 0, max: 0xffffffff }),
  fdCount: fc.integer({ min: 0, max: 3 }),
  payload: fc.uint8Array({ maxLength: 300 }),
});

type ArbitraryFrame = { type: FrameTypeCode; id: number; fdCount: number; payload: Uint8Array };

/**
 * Encodes `frames`, cuts the bytes at `cuts` (modulo their length) and pushes the pieces through
 * `decoder`; returns what it yielded, having checked that nothing is left pending.
 */
function decodeInPieces(decoder: FrameDecoder, frames: ArbitraryFrame[], cuts: number[]) {
  const bytes = Buffer.concat(frames.map((f) => encodeFrame(f.type, f.id, f.payload, f.fdCount)));
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
  const decoded = [];
  let previous = 0;
  for (const point of [...points, bytes.length]) {
    // Fresh copies: the decoder may keep views into what it is given.
    decoded.push(...decoder.push(Uint8Array.from(bytes.subarray(previous, point))));
    previous = point;
  }
  expect(decoder.pendingBytes).toBe(0);
  return decoded;
}

describe("FrameDecoder", () => {
  it("yields the same frames however the bytes are split", () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 12 }),
        fc.array(fc.nat(400), { maxLength: 20 }),
        (frames, cuts) => {
          const decoded = decodeInPieces(new FrameDecoder(1 << 20), frames, cuts);
          expect(
            decoded.map((f) => ({
              type: f.type,
              id: f.id,
              fdCount: f.fdCount,
              payload: Buffer.from(f.payload),
            })),
          ).toEqual(
            frames.map((f) => ({
              type: f.type,
              id: f.id,
              fdCount: f.fdCount,
              payload: Buffer.from(f.payload),
            })),
          );
        },
      ),
      { seed: 42, numRuns: 300 },
    );
  });

  it("with splitData, passes DATA on in the pieces it arrives in, and every other frame whole", () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 12 }),
        fc.array(fc.nat(400), { maxLength: 20 }),
        (frames, cuts) => {
          const decoded = decodeInPieces(new FrameDecoder(1 << 20, { splitData: true }), frames, cuts);
          // Regroup the pieces: a DATA frame is one or more DATA pieces of its id, the fds on the
          // first, no empty piece unless the payload is empty.
          let at = 0;
          for (const frame of frames) {
            const first = decoded[at++]!;
            expect({ type: first.type, id: first.id, fdCount: first.fdCount }).toEqual({
              type: frame.type,
              id: frame.id,
              fdCount: frame.fdCount,
            });
            const pieces = [Buffer.from(first.payload)];
            let got = first.payload.byteLength;
            if (frame.type === FrameType.DATA) {
              expect(first.payload.byteLength > 0 || frame.payload.byteLength === 0).toBe(true);
              while (got < frame.payload.byteLength) {
                const piece = decoded[at++]!;
                expect({ type: piece.type, id: piece.id, fdCount: piece.fdCount }).toEqual({
                  type: FrameType.DATA,
                  id: frame.id,
                  fdCount: 0,
                });
                expect(piece.payload.byteLength).toBeGreaterThan(0);
                pieces.push(Buffer.from(piece.payload));
                got += piece.payload.byteLength;
              }
            }
            expect(Buffer.concat(pieces)).toEqual(Buffer.from(frame.payload));
          }
          expect(at).toBe(decoded.length);
        },
      ),
      { seed: 43, numRuns: 500 },
    );
  });

  it("rejects a bad header as soon as it is complete, even split", () => {
    const decoder = new FrameDecoder(1024);
    const header = encodeFrame(FrameType.EVENT, 1, new Uint8Array(2000)).subarray(0, 12);
    expect(decoder.push(header.subarray(0, 5))).toEqual([]);
    expect(() => decoder.push(header.subarray(5))).toThrow(ProtocolError);
  });

  it("never throws anything but ProtocolError on random bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          new FrameDecoder(1 << 16).push(bytes);
        } catch (error) {
          expect(error).toBeInstanceOf(ProtocolError);
        }
      }),
      { seed: 7, numRuns: 500 },
    );
  });
});
