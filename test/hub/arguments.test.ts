// The boundary checks of hub operations in one process, and the bounds a hub puts on durations.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { Hub } from "../../hub/hub.js";
import { checkCallOptions, checkWatchOptions } from "../../hub/arguments.js";
import { MAX_DURATION_MS, toDuration } from "../../model/durations.js";
import { connectUnix, listenUnix } from "../../hub/remote/unix.js";

describe("durations", () => {
  it("takes numbers and bigints, clamps to the timer limit, and refuses the rest by name", () => {
    expect(toDuration(5000, "t")).toBe(5000);
    expect(toDuration(5000n, "t")).toBe(5000);
    expect(toDuration(3e9, "t")).toBe(MAX_DURATION_MS);
    expect(toDuration(2n ** 70n, "t")).toBe(MAX_DURATION_MS);
    expect(toDuration(Infinity, "t")).toBe(MAX_DURATION_MS);
    for (const bad of [-1, -1n, NaN, "5", null, {}, [], true]) {
      expect(() => toDuration(bad, "options.timeout")).toThrow(
        /options\.timeout must be a non-negative number/,
      );
    }
  });
});

describe("call options", () => {
  it("keeps only the known fields, checked", () => {
    const signal = new AbortController().signal;
    expect(
      checkCallOptions({
        timeout: 10n,
        labels: { a: "b" },
        instance: "i1",
        waitForService: true,
        signal,
        x: 1,
      }),
    ).toEqual({ timeout: 10, labels: { a: "b" }, instance: "i1", waitForService: true, signal });
    expect(() => checkCallOptions({ signal: {} })).toThrow(/options.signal must be an AbortSignal/);
    expect(() => checkCallOptions({ labels: { a: 1n } })).toThrow(/must be a string/);
    expect(() => checkCallOptions({ instance: "" })).toThrow(/options.instance/);
    expect(() => checkCallOptions("fast")).toThrow(/call options must be an object/);
    expect(() => checkWatchOptions({ existing: "yes" })).toThrow(/options.existing must be a boolean/);
  });

  it("refuses bad options in hub.call with a typed rejection, before the call starts", async () => {
    const hub = new Hub();
    await hub.register("slow", () => new Promise(() => undefined));
    await expect(hub.call("slow", 1, { timeout: -5 })).rejects.toMatchObject({ code: "EINVALID_ARGUMENT" });
    await expect(hub.call("slow", 1, { signal: {} as AbortSignal })).rejects.toMatchObject({
      code: "EINVALID_ARGUMENT",
    });
    await expect(hub.call({} as string, 1, { waitForService: true })).rejects.toMatchObject({
      code: "EINVALID_NAME",
    });
    await hub.close();
  });

  it("does not spin on a timeout beyond what a timer can wait", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => void warnings.push(warning);
    process.on("warning", onWarning);
    const hub = new Hub();
    try {
      await hub.register("slow", () => new Promise(() => undefined));
      const calls = Array.from({ length: 20 }, () => hub.call("slow", 1, { timeout: 3_000_000_000 }));
      for (const call of calls) call.catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(warnings.filter((warning) => warning.name === "TimeoutOverflowWarning")).toEqual([]);
    } finally {
      await hub.close();
      process.off("warning", onWarning);
    }
  });
});

describe("a remote peer's calls", () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it("are bounded by the hub's maxPeerCallTimeout, even when they ask for no timeout", async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-args-"));
    const hub = new Hub({ maxPeerCallTimeout: 150 });
    await hub.register("never", () => new Promise(() => undefined));
    const listener = await listenUnix(hub, join(dir, "hub.sock"));
    const remote = await connectUnix(join(dir, "hub.sock"));
    try {
      for (const timeout of [0, 60_000]) {
        const started = Date.now();
        await expect(remote.call("never", 1, { timeout })).rejects.toMatchObject({ code: "ETIMEOUT" });
        // Bounded by the cap, not by the 60 s asked for (a loose bound: no timing assertion).
        expect(Date.now() - started).toBeLessThan(10_000);
      }
      // In-process callers are not bounded by it.
      const local = hub.call("never", 1, { timeout: 0 });
      const settled = await Promise.race([
        local.then(
          () => "settled",
          () => "settled",
        ),
        new Promise((resolve) => setTimeout(() => resolve("pending"), 300)),
      ]);
      expect(settled).toBe("pending");
    } finally {
      await remote.close();
      await listener.close();
      await hub.close();
    }
  });
});
