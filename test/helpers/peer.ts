import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { join } from "node:path";
import { within } from "../compliance/suite.js";

/** The Unix transport's entry, for peer scripts to import. */
export const UNIX_TRANSPORT = JSON.stringify(join(import.meta.dirname, "../../transports/unix/index.ts"));

/**
 * Starts a peer process running `script` (TypeScript, top-level await allowed) and waits until
 * it prints its first line (by convention "ready"). The caller kills it.
 */
export async function spawnPeer(script: string): Promise<ChildProcessWithoutNullStreams> {
  const peer = spawn(process.execPath, ["--import", "tsx", "-e", script], { stdio: "pipe" });
  peer.stderr.pipe(process.stderr);
  await within(new Promise((resolve) => peer.stdout.once("data", resolve)), 10_000, "the peer to start");
  return peer;
}
