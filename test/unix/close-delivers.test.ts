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
import { afterAll, beforeAll, it } from "vitest";
import { killAll, startChild } from "../faults/processes.js";
import { expectDeliveredThroughFreeze } from "../helpers/frozen-hub-delivery.js";

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
  await expectDeliveredThroughFreeze(hub, writer, SIZE);
});
