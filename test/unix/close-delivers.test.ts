// A session's close delivers what was written before it: a short-lived command that streams into
// a hub whose socket is backed up, closes its session and exits at once must not leave the tail of
// its stream (and the END) behind. The hub is frozen (SIGSTOP) while the command writes and
// closes, so nothing can leave until it thaws. Three things lost the tail before: `close()`
// promised nothing (the bytes queued in the command's socket died with it; a natural exit waited
// only 1 s without progress), bytes waiting for the hub's credit were dropped by the close, and
// the hub reset a stream whose END had arrived when its session closed (the session's scope).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { killAll, startChild, within } from "../faults/processes.js";
import { patternHash } from "../helpers/close-delivery.js";

// More than one stream window (1 MiB): the last chunks and the END wait in the command for the
// hub's credit when its writer is told "closed".
const SIZE = 1024 * 1024 + 64 * 1024;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-close-delivers-"));
});

afterAll(async () => {
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

it("a command that closes its session and exits delivers every byte and the END to a backed-up hub", async () => {
  const socket = join(dir, "hub.sock");
  const hub = await startChild(join(import.meta.dirname, "fixtures", "stream-sink-hub.ts"), [socket]);
  const writer = await startChild(join(import.meta.dirname, "fixtures", "stream-then-close.ts"), [
    socket,
    String(SIZE),
  ]);
  await writer.line(/^called$/, 10_000);
  const exited = new Promise<void>((resolve) => writer.process.once("exit", () => resolve()));
  hub.freeze();
  try {
    writer.process.stdin.write("go\n");
    await writer.line(/^closing$/, 10_000);
    // The command is in `close()` now, with most of the stream still in its process (the frozen
    // hub reads nothing). Before the fix it exited here; now it waits until the hub reads.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 1500))]);
  } finally {
    hub.thaw();
  }
  const result = await hub.line(/^(got|failed) /, 15_000);
  expect(result).toBe(`got ${SIZE} ${patternHash(SIZE)}`);
  await within(exited, 15_000, "the command to exit");
  expect(writer.lines).toContain("closed");
  expect(writer.process.exitCode).toBe(0);
});
