// The member's frame rate: a burst of `perSecond`, then one frame per 1/perSecond s (clock injected).
import { describe, expect, it } from "vitest";
import { FrameRate } from "../../mles/frame-rate.js";

describe("FrameRate", () => {
  it("lets a burst through, then one frame per interval", () => {
    const rate = new FrameRate(10, 0);
    for (let i = 0; i < 10; i++) expect(rate.take(0)).toBe(true);
    expect(rate.take(0)).toBe(false);
    expect(rate.wait(0)).toBe(100);
    expect(rate.take(50)).toBe(false);
    expect(rate.wait(50)).toBe(50);
    expect(rate.take(100)).toBe(true);
    expect(rate.take(100)).toBe(false);
  });

  it("refills up to the burst, never beyond", () => {
    const rate = new FrameRate(5, 0);
    for (let i = 0; i < 5; i++) rate.take(0);
    let taken = 0;
    while (rate.take(60_000)) taken++;
    expect(taken).toBe(5);
  });
});
