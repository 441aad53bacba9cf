import { describe, expect, it } from "vitest";
import { formatSpread, measure, roundRatioSpread } from "../../bench/harness.js";
import { loopsOver, ownCopy, ownLoops } from "../../bench/own-loop.js";

describe("bench harness", () => {
  it("pairs rounds: the median of per-round ratios with their lowest and highest", () => {
    const ratio = roundRatioSpread([10, 40, 90], [10, 20, 30]);
    expect(ratio).toEqual({ median: 2, low: 1, high: 3 });
    expect(formatSpread(ratio)).toBe("2.00 (1.00–3.00)");
  });

  it("rotates the contenders' order from round to round, after one warm-up each", async () => {
    const order: string[] = [];
    const contender = (name: string) => ({
      name,
      run: async (count: number) => {
        order.push(`${name}${count}`);
      },
    });
    const results = await measure([contender("a"), contender("b"), contender("c")], 10, 3, "cpu");
    expect(order).toEqual(["a2", "b2", "c2", "a10", "b10", "c10", "b10", "c10", "a10", "c10", "a10", "b10"]);
    expect(results.map((result) => [result.name, result.samples.length])).toEqual([
      ["a", 3],
      ["b", 3],
      ["c", 3],
    ]);
  });

  it("gives every contender loop code of its own, running each operation the count asked", async () => {
    let calls = 0;
    let inFlight = 0;
    let widest = 0;
    const operation = async (): Promise<void> => {
      calls += 1;
      inFlight += 1;
      widest = Math.max(widest, inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight -= 1;
    };
    const [copyA, copyB, copyAAgain] = [await ownCopy("a"), await ownCopy("b"), await ownCopy("a")];
    expect(copyA.loopsOver).not.toBe(loopsOver);
    expect(copyA.loopsOver).not.toBe(copyB.loopsOver);
    expect(copyAAgain.loopsOver).toBe(copyA.loopsOver);
    const first = await ownLoops("first", operation);
    const second = await ownLoops("second", operation);
    await first.sequential(5);
    expect([calls, widest]).toEqual([5, 1]);
    calls = 0;
    await second.pipelined(25, 10);
    expect([calls, widest]).toEqual([25, 10]);
  });
});
