// A handler's `signal` once its call is over: aborted for good, also when read again from inside
// its own abort listener or after the call failed — a fresh, never-aborted signal there would let
// a handler go on working for a caller that has gone (and a late `onCancel` never fire).
import { describe, expect, it } from "vitest";
import { CallTimeoutError, Hub } from "../../index.js";

describe("a handler's signal after its call ended", () => {
  it("stays aborted: read in its own abort listener, after the timeout, and through onCancel", async () => {
    const hub = new Hub();
    let readInListener: boolean | undefined;
    let lateCancel: unknown;
    let finish!: (aborted: boolean) => void;
    const finished = new Promise<boolean>((resolve) => (finish = resolve));
    await hub.register("slow", (_data, context) => {
      context.signal.addEventListener("abort", () => (readInListener = context.signal.aborted));
      return new Promise((resolve) =>
        setTimeout(() => {
          context.onCancel((reason) => (lateCancel = reason));
          finish(context.signal.aborted);
          resolve("too late");
        }, 80),
      );
    });
    await expect(hub.call("slow", null, { timeout: 20 })).rejects.toBeInstanceOf(CallTimeoutError);
    expect(readInListener).toBe(true);
    expect(await finished).toBe(true);
    expect(lateCancel).toBeInstanceOf(CallTimeoutError);
    await hub.close();
  });

  it("gives the instance a call fails over to a signal of its own", async () => {
    const hub = new Hub();
    const signals: AbortSignal[] = [];
    const first = hub.session();
    let served!: () => void;
    const atFirst = new Promise<void>((resolve) => (served = resolve));
    await first.register("svc", (_data, context) => {
      signals.push(context.signal);
      served();
      return new Promise(() => undefined);
    });
    const answer = hub.call("svc", null);
    await atFirst;
    await hub.register("svc", (_data, context) => {
      signals.push(context.signal);
      return "second";
    });
    await first.close();
    expect(await answer).toBe("second");
    expect(signals).toHaveLength(2);
    expect(signals[0]!.aborted).toBe(true);
    expect(signals[1]!.aborted).toBe(false);
    await hub.close();
  });
});
