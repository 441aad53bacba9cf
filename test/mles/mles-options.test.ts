// The face's options are checked when it is made, each failure naming the option.
import { describe, expect, it } from "vitest";
import { MlesConfigError } from "../../mles/errors.js";
import { MLES_DEFAULTS, verifyMlesOptions } from "../../mles/options.js";

describe("Mles options", () => {
  it("fill in Mles's defaults", () => {
    expect(verifyMlesOptions({})).toEqual({ ...MLES_DEFAULTS });
    expect(MLES_DEFAULTS).toMatchObject({
      history: 200,
      maxFrameSize: 1024 * 1024,
      ring: 128,
      maxFramesPerSecond: 100,
    });
    expect(verifyMlesOptions({ key: undefined, history: undefined }).history).toBe(200);
  });

  it.each([
    [{ history: -1 }, /history must be an integer from 0/],
    [{ maxFrameSize: 1.5 }, /maxFrameSize must be an integer/],
    [{ maxMembersPerChannel: 0 }, /maxMembersPerChannel must be an integer from 1/],
    [{ headerTimeout: 0 }, /headerTimeout must be an integer from 1/],
    [{ pingInterval: -5 }, /pingInterval/],
    [{ ring: 100_000 }, /ring must be an integer from 1 to 65536/],
    [{ maxFramesPerSecond: -1 }, /maxFramesPerSecond must be an integer from 0/],
    [{ key: "" }, /key must be a non-empty string/],
  ])("refuses %o", (options, message) => {
    expect(() => verifyMlesOptions(options as never)).toThrow(MlesConfigError);
    expect(() => verifyMlesOptions(options as never)).toThrow(message);
  });
});
