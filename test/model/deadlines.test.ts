import { describe, expect, it } from "vitest";
import { CallTimeoutError, Hub } from "../../index.js";
import { Deadlines } from "../../model/deadlines.js";

/** Resolves when `count` expiries were recorded; bounded by the test's own timeout. */
function expiries(count: number): { record(): void; done: Promise<void> } {
  let left = count;
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    record: () => {
      left -= 1;
      if (left === 0) finish();
    },
    done,
  };
}

/** Counts event-loop turns (check phases) while it runs, so a test can see whether the loop got a turn. */
function loopTurns(): { readonly count: number; stop(): void } {
  let count = 0;
  let stopped = false;
  const turn = (): void => {
    if (stopped) return;
    count += 1;
    setImmediate(turn);
  };
  setImmediate(turn);
  return {
    get count() {
      return count;
    },
    stop: () => (stopped = true),
  };
}

describe("deadlines that expire together", () => {
  it("expire in slices that let the event loop run in between, in the order they were added", async () => {
    const set = new Deadlines();
    const fired: Array<{ index: number; turn: number }> = [];
    const total = 400;
    const { record, done } = expiries(total);
    const turns = loopTurns();
    for (let index = 0; index < total; index++) {
      set.add(20, () => {
        // Each expiry costs ~0.1 ms of CPU, so the whole batch is ~40 ms: far more than one
        // slice may hold the loop, on any machine.
        const until = performance.now() + 0.1;
        while (performance.now() < until);
        fired.push({ index, turn: turns.count });
        record();
      });
    }
    // Hold the loop past every deadline, so that all of them are due when the timer fires.
    const until = performance.now() + 40;
    while (performance.now() < until);
    await done;
    turns.stop();
    expect(fired.map((entry) => entry.index)).toEqual([...Array(total).keys()]);
    // All in one callback would see one loop turn; slices see several.
    const distinctTurns = new Set(fired.map((entry) => entry.turn)).size;
    expect(distinctTurns).toBeGreaterThan(1);
  });

  it("expire those added during a batch, and never the cancelled ones", async () => {
    const set = new Deadlines();
    const order: string[] = [];
    // 200 survive the cancelling below, plus one added from inside an expiry.
    const { record, done } = expiries(201);
    const cancelled = [];
    for (let index = 0; index < 300; index++) {
      const deadline = set.add(10, () => {
        const until = performance.now() + 0.1;
        while (performance.now() < until);
        order.push(`a${index}`);
        record();
        if (index === 0) set.add(10, () => (order.push("late"), record()));
      });
      if (index % 3 === 2) cancelled.push(deadline);
    }
    for (const deadline of cancelled) deadline.cancel();
    const until = performance.now() + 20;
    while (performance.now() < until);
    await done;
    const expected = [...Array(300).keys()].filter((index) => index % 3 !== 2).map((index) => `a${index}`);
    expect(order.filter((name) => name !== "late")).toEqual(expected);
    expect(order.at(-1)).toBe("late");
  });
});

describe("many calls timing out together", () => {
  it("all fail with CallTimeoutError, in the order they were made", async () => {
    const hub = new Hub();
    try {
      await hub.register("never", () => new Promise(() => {}));
      const failures: number[] = [];
      const calls = Array.from({ length: 20_000 }, (_, index) =>
        hub.call("never", index, { timeout: 50 }).then(
          () => expect.fail(`call ${index} was answered`),
          (error: unknown) => {
            expect(error).toBeInstanceOf(CallTimeoutError);
            expect((error as CallTimeoutError).code).toBe("ETIMEOUT");
            failures.push(index);
          },
        ),
      );
      await Promise.all(calls);
      expect(failures).toEqual([...Array(20_000).keys()]);
    } finally {
      await hub.close();
    }
  });
});
