/**
 * How many microtask turns an in-process call takes to settle its caller (issue 19). The count is
 * the structure of the call path, not a time: a dispatcher that settles its caller's own promise
 * from the handler's needs two turns for an async handler (the reaction on the handler's promise,
 * then the caller's await) and one for a sync handler; every intermediate `async` function or
 * `await` on the way would add turns and shows here at once.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../index.js";

/** The microtask turns between starting `operation` and the caller's `await` resuming. */
async function turnsOf(operation: () => Promise<unknown>): Promise<number> {
  let turns = 0;
  let running = true;
  const tick = (): void => {
    if (!running || turns >= 100) return;
    turns += 1;
    queueMicrotask(tick);
  };
  queueMicrotask(tick);
  await operation();
  running = false;
  return turns;
}

const hubs: Hub[] = [];
afterEach(async () => {
  for (const hub of hubs.splice(0)) await hub.close();
});

async function echoHub(options?: ConstructorParameters<typeof Hub>[0]): Promise<Hub> {
  const hub = new Hub(options);
  hubs.push(hub);
  await hub.register("echo", (data: unknown) => data);
  await hub.register("echo.async", async (data: unknown) => data);
  return hub;
}

describe("microtask turns of an in-process call", () => {
  it("is the floor: one turn for a sync handler, two for an async one, as for a bare deferred", async () => {
    const hub = await echoHub();
    const handler = async (data: unknown): Promise<unknown> => data;
    // The references: awaiting a settled promise, and a caller's own promise settled from the
    // handler's with one `then` (what any dispatcher that can time out needs).
    expect(await turnsOf(() => Promise.resolve(1))).toBe(1);
    const deferredFloor = await turnsOf(
      () => new Promise((resolve, reject) => void handler(1).then(resolve, reject)),
    );
    expect(deferredFloor).toBe(2);

    expect(await turnsOf(() => hub.call("echo", 1))).toBe(1);
    expect(await turnsOf(() => hub.call("echo.async", 1))).toBe(deferredFloor);
  });

  it("adds no turn for figures off, a timeout, a signal or a call that fails", async () => {
    const hub = await echoHub({ stats: false });
    await hub.register("fails", async () => {
      throw new Error("no");
    });
    expect(await turnsOf(() => hub.call("echo.async", 1))).toBe(2);
    expect(await turnsOf(() => hub.call("echo.async", 1, { timeout: 5000 }))).toBe(2);
    const controller = new AbortController();
    expect(await turnsOf(() => hub.call("echo.async", 1, { signal: controller.signal }))).toBe(2);
    expect(await turnsOf(() => hub.call("fails", 1).catch(() => "failed"))).toBe(3); // + the catch
  });
});
