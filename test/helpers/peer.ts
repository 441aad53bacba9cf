import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "./programs.js";

/**
 * The module peer scripts import `connectUnix`, `FileDescriptor` and the error classes from (a
 * quoted path, to paste into a script): the prebuilt bundle of test/helpers/peer-lib.ts.
 */
export const PEER_LIBRARY = JSON.stringify(nodeArgs("test/helpers/peer-lib.ts")[0]);

/**
 * Starts a peer process running `script` (JavaScript, an ES module: top-level await allowed; it
 * imports what it needs from {@link PEER_LIBRARY}) and waits until it prints its first line (by
 * convention "ready"). The caller kills it. Not through tsx: under load its start took seconds.
 */
export async function spawnPeer(script: string): Promise<ChildProcessWithoutNullStreams> {
  const peer = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "pipe" });
  peer.stderr.pipe(process.stderr);
  await within(new Promise((resolve) => peer.stdout.once("data", resolve)), 10_000, "the peer to start");
  return peer;
}

/** A fixture peer process: `script` with `args`, stopped by closing its stdin. */
export interface FixturePeer {
  /** Asks the peer to exit (stdin closes), and kills it if it has not within 3 s. */
  stop(): Promise<void>;
}

/** Starts a compliance-suite peer (a script that serves fixture services until stdin closes). */
export function startFixturePeer(script: string, args: string[]): FixturePeer {
  const peer = spawn(process.execPath, [...nodeArgs(script), ...args], {
    stdio: ["pipe", "inherit", "inherit"],
  });
  return {
    stop: async () => {
      if (peer.exitCode !== null || peer.signalCode !== null) return;
      const exited = new Promise((resolve) => peer.once("exit", resolve));
      peer.stdin.end();
      const timer = setTimeout(() => peer.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}
