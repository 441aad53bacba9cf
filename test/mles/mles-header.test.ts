// The Mles first frame {uid, channel, auth?} as Mles's serde reads it, and where beamhub is stricter.
import { describe, expect, it } from "vitest";
import { MlesHeaderError } from "../../mles/errors.js";
import { MAX_UID_LENGTH, parseMlesHeader } from "../../mles/header.js";

function refusal(frame: string | Buffer, binary = false): MlesHeaderError {
  try {
    parseMlesHeader(frame, binary);
  } catch (error) {
    expect(error).toBeInstanceOf(MlesHeaderError);
    return error as MlesHeaderError;
  }
  throw new Error(`accepted ${String(frame)}`);
}

describe("the Mles header", () => {
  it("reads uid, channel and auth; ignores other fields; null auth is none", () => {
    expect(parseMlesHeader('{"uid":"alice","channel":"example"}', false)).toEqual({
      uid: "alice",
      channel: "example",
      auth: undefined,
    });
    expect(
      parseMlesHeader(Buffer.from('{ "uid":"a", "channel":"c", "auth":"ff", "x": [1] }'), false),
    ).toEqual({
      uid: "a",
      channel: "c",
      auth: "ff",
    });
    expect(parseMlesHeader('{"uid":"a","channel":"c","auth":null}', false).auth).toBeUndefined();
  });

  it("refuses a binary first frame (1003), text that is not JSON (1007), other shapes (1008)", () => {
    expect(refusal('{"uid":"a","channel":"c"}', true).closeCode).toBe(1003);
    const notJson = refusal("{uid: a}");
    expect(notJson.closeCode).toBe(1007);
    expect(notJson.message).toMatch(/not JSON/);
    expect(notJson.cause).toBeInstanceOf(SyntaxError);
    for (const [frame, why] of [
      ["[]", /JSON object/],
      ["null", /JSON object/],
      ['"alice"', /JSON object/],
      ['{"channel":"c"}', /uid must be a string, got undefined/],
      ['{"uid":1,"channel":"c"}', /uid must be a string, got number/],
      ['{"uid":"a","channel":["c"]}', /channel must be a string, got an array/],
      ['{"uid":"","channel":"c"}', /uid is empty/],
      ['{"uid":"a","channel":""}', /channel is empty/],
      ['{"uid":"älice","channel":"c"}', /uid must be printable ASCII/],
      ['{"uid":"a\\nb","channel":"c"}', /uid must be printable ASCII/],
      ['{"uid":"a","channel":"c","auth":12}', /auth must be a string, got number/],
    ] as const) {
      const error = refusal(frame);
      expect(error.closeCode, frame).toBe(1008);
      expect(error.code).toBe("EMLES_HEADER");
      expect(error.message, frame).toMatch(why);
    }
  });

  it(`bounds uid at ${MAX_UID_LENGTH} characters`, () => {
    expect(
      parseMlesHeader(JSON.stringify({ uid: "u".repeat(MAX_UID_LENGTH), channel: "c" }), false).uid,
    ).toHaveLength(MAX_UID_LENGTH);
    expect(refusal(JSON.stringify({ uid: "u".repeat(MAX_UID_LENGTH + 1), channel: "c" })).message).toMatch(
      /more than 255/,
    );
  });
});
