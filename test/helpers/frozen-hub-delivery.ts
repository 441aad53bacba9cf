/**
 * The close-delivers check, for every transport: a command streams into a hub that is frozen
 * while it writes and closes, and must still deliver everything before it exits.
 */
import { expect } from "vitest";
import { type Child, within } from "../faults/processes.js";
import { patternHash } from "./close-delivery.js";

/**
 * Runs `writer` (a started `streamThenClose` program that has printed "called") against `hub` (a
 * `registerSink` program): freezes the hub, lets the writer write `size` bytes and close, keeps
 * the hub frozen 1.5 s while the writer is in `close()`, thaws it, and expects the sink to have
 * got every byte and the writer to have exited 0 after "closed".
 */
export async function expectDeliveredThroughFreeze(hub: Child, writer: Child, size: number): Promise<void> {
  await writer.line(/^called$/, 10_000);
  const exited = new Promise<void>((resolve) => writer.process.once("exit", () => resolve()));
  hub.freeze();
  try {
    writer.process.stdin.write("go\n");
    await writer.line(/^closing$/, 10_000);
    // The command is in `close()` now, with the stream's tail still on its side (the frozen hub
    // reads nothing). A close that promises nothing exits here; it must wait until the hub reads.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 1500))]);
  } finally {
    hub.thaw();
  }
  const result = await hub.line(/^(got|failed) /, 15_000);
  expect(result).toBe(`got ${size} ${patternHash(size)}`);
  await within(exited, 15_000, "the command to exit");
  expect(writer.lines).toContain("closed");
  expect(writer.process.exitCode).toBe(0);
}
