// Shared plumbing of the fd tests: temp dirs, bounded waits, and a child peer process.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { FdServer, type FdSocket } from "../../fd/index.js";
import { encodeFrame, type Frame, FrameReader } from "./fixtures/frames.js";
import { nodeArgs } from "../helpers/programs.js";

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = resolve(here, "../..");
const peerScript = join(here, "fixtures", "peer.ts");

/** Rejects if `promise` does not settle within `ms`. */
export function within<T>(ms: number, label: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves with the first emission of `event`. */
export function once<T = unknown>(emitter: NodeJS.EventEmitter, event: string, ms = 5000): Promise<T> {
  return within(
    ms,
    `event ${event}`,
    new Promise<T>((resolve) => emitter.once(event, (value: T) => resolve(value))),
  );
}

/** A fresh private temp dir; `cleanup()` removes it. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "beamhub-fd-"));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Open fds of this process. */
export function fdCount(): number {
  return readdirSync("/proc/self/fd").length;
}

/** How many of this process's fds refer to `path` (by their /proc/self/fd link). */
export function fdsPointingTo(path: string): number {
  let count = 0;
  for (const entry of readdirSync("/proc/self/fd")) {
    try {
      if (readlinkSync(`/proc/self/fd/${entry}`) === path) count++;
    } catch {
      // closed meanwhile (e.g. the fd readdir itself used)
    }
  }
  return count;
}

/** Spawns a Node child running a TypeScript fixture (its prebuilt bundle, see ../helpers/programs.ts). */
export function spawnTs(
  file: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  stdout: "inherit" | "pipe" = "inherit",
): ChildProcess {
  return spawn(process.execPath, [...nodeArgs(file), ...args], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ["pipe", stdout, "inherit"],
  });
}

/** The parent's handle on a child peer (fixtures/peer.ts) connected over an FdSocket. */
export interface Peer {
  child: ChildProcess;
  socket: FdSocket;
  server: FdServer;
  dir: string;
  /** Sends a command (taking ownership of fds) and waits for the reply with the same id. */
  request(msg: Record<string, unknown>, fds?: number[], ms?: number): Promise<Frame>;
  /** Sends a command without waiting. */
  send(msg: Record<string, unknown>, fds?: number[]): boolean;
  /** Replies with an id nobody waits for (e.g. send-back frames). */
  unsolicited: Frame[];
  /** Kills the child, closes everything, removes the temp dir. */
  close(): Promise<void>;
}

let nextId = 1;

/** Starts a child peer and waits until it is connected. */
export async function startPeer(): Promise<Peer> {
  const { dir, cleanup } = tempDir();
  const path = join(dir, "peer.sock");
  const server = await FdServer.listen(path);
  const connected = once<FdSocket>(server, "connection", 15_000);
  const child = spawnTs(peerScript, [path]);
  const socket = await connected;
  const reader = new FrameReader();
  const waiting = new Map<unknown, (frame: Frame) => void>();
  const unsolicited: Frame[] = [];
  socket.on("data", (data, fds) => {
    for (const frame of reader.push(data, fds)) {
      const resolve = waiting.get(frame.msg.id);
      if (resolve) {
        waiting.delete(frame.msg.id);
        resolve(frame);
      } else {
        unsolicited.push(frame);
      }
    }
  });
  socket.on("error", () => {});
  const hello = new Promise<Frame>((resolve) => waiting.set(0, resolve));
  await within(15_000, "child hello", hello);
  const send = (msg: Record<string, unknown>, fds?: number[]): boolean =>
    socket.write(encodeFrame(msg, fds?.length ?? 0), fds);
  return {
    child,
    socket,
    server,
    dir,
    unsolicited,
    send,
    request(msg, fds, ms = 10_000) {
      const id = nextId++;
      const reply = new Promise<Frame>((resolve) => waiting.set(id, resolve));
      send({ ...msg, id }, fds);
      return within(ms, `reply to ${String(msg.op)}`, reply);
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        child.kill("SIGKILL");
        await within(5000, "child exit", exited);
      }
      socket.destroy();
      await server.close();
      reader.fifo.closeAll();
      cleanup();
    },
  };
}
