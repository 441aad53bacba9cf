// Starting and stopping tracing-peer.ts, with bounded waits.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

export interface PeerProcess {
  /** Ends its stdin, waits for it to exit and returns what it printed after "ready". */
  stop(): Promise<string>;
}

export async function startPeer(role: "service" | "hub", socket: string): Promise<PeerProcess> {
  const child = spawn(
    process.execPath,
    [...nodeArgs(join(import.meta.dirname, "tracing-peer.ts")), role, socket],
    {
      stdio: ["pipe", "pipe", "inherit"],
    },
  );
  let output = "";
  child.stdout.setEncoding("utf8");
  child.stdout.on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await within(
      new Promise<void>((resolve, reject) => {
        const check = (): void => {
          if (output.startsWith("ready\n")) resolve();
        };
        child.stdout.on("data", check);
        child.once("exit", (code) =>
          reject(new Error(`the ${role} peer exited (${code}) before it was ready`)),
        );
      }),
      20_000,
      `the ${role} peer to start`,
    );
  } catch (error) {
    child.kill("SIGKILL");
    throw error;
  }
  return {
    stop: async () => {
      child.stdin.end();
      try {
        await within(exited, 10_000, `the ${role} peer to exit`);
      } finally {
        child.kill("SIGKILL");
      }
      return output.slice("ready\n".length);
    },
  };
}
