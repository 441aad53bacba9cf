// Unix peers are identified by the kernel's credentials (SO_PEERCRED), not by what they say:
// real sockets, and real processes running as another user (nobody, uid 65534) where this
// test runs as root. Handlers see the identity as context.caller.identity, also across the wire.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  connectUnix,
  Hub,
  listenUnix,
  peerCredentialsAvailable,
  type CallContext,
  type RemoteHub,
  type UnixListener,
} from "../../index.js";
import { unixIdentity } from "../../internal.js";
import { FdSocket, socketPair } from "../../fd/index.js";
import { within } from "../compliance/suite.js";
import { nodeArgs } from "../helpers/programs.js";

const root = join(import.meta.dirname, "../..");
const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

let dir: string;
let hub: Hub;
let listener: UnixListener;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-peer-identity-"));
  // Another user must be able to reach the socket: the directory is searchable, the socket 0666.
  await chmod(dir, 0o755);
  hub = new Hub();
  listener = await listenUnix(hub, join(dir, "hub.sock"), { mode: 0o666 });
});

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await listener.close();
  await hub.close();
  await rm(dir, { recursive: true, force: true });
});

/** The name /etc/group gives `gid` (read here independently of the code under test). */
function groupNameOf(gid: number): string | undefined {
  return readFileSync("/etc/group", "utf8")
    .split("\n")
    .map((line) => line.split(":"))
    .find((fields) => fields[2] === String(gid))?.[0];
}

const whoami = (_data: unknown, context: CallContext): unknown => context.caller.identity ?? null;

async function client(path = listener.path): Promise<RemoteHub> {
  const connected = await connectUnix(path);
  cleanups.push(() => connected.close());
  return connected;
}

/** Runs test/unix/unix-peer.ts as `uid` against `socket` and returns its JSON lines. */
async function runPeer(uid: number, socket: string, calls: string[]): Promise<unknown[]> {
  const child = spawn(
    process.execPath,
    [...nodeArgs(join(import.meta.dirname, "unix-peer.ts")), socket, ...calls],
    {
      cwd: root,
      uid,
      gid: uid,
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
  const code = await within(
    new Promise<number | null>((resolve) => child.once("exit", resolve)),
    15_000,
    `the peer running as uid ${uid}`,
  ).catch((error: unknown) => {
    child.kill("SIGKILL");
    throw error;
  });
  expect(code, err).toBe(0);
  return out
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as unknown);
}

describe("peer credentials", () => {
  it("are the kernel's record of the connecting process", () => {
    // The addon built from these sources has them (an older build would not: serve warns then).
    expect(peerCredentialsAvailable()).toBe(true);
    const [a, b] = socketPair();
    const mine = FdSocket.fromFd(a);
    const theirs = FdSocket.fromFd(b);
    try {
      const credentials = mine.peerCredentials();
      expect(credentials).toMatchObject({ uid: process.getuid!(), gid: process.getgid!(), pid: process.pid });
      expect(Array.isArray(credentials?.groups)).toBe(true);
      // Kept once read: still there after the socket is gone.
      mine.destroy();
      expect(mine.peerCredentials()).toBe(credentials);
    } finally {
      mine.destroy();
      theirs.destroy();
    }
  });

  it("give a session of this user the identity unix:<name> with uid, gid, pid and groups", async () => {
    const registration = await hub.register("who.local", whoami);
    cleanups.push(() => registration.unregister());
    const identity = await (await client()).call("who.local");
    expect(identity).toMatchObject({
      id: `unix:${userInfo().username}`,
      user: userInfo().username,
      via: "unix",
      uid: process.getuid!(),
      gid: process.getgid!(),
      pid: process.pid,
    });
  });

  it.skipIf(!isRoot)("identify a process of another user, also to a handler in another session", async () => {
    // The handler runs behind a Unix session of its own: the caller's identity crosses the wire.
    const service = await client();
    await service.register("who.remote", whoami);
    const [line] = await runPeer(NOBODY, listener.path, ["who.remote"]);
    const identity = (line as { reply: Record<string, unknown> }).reply;
    expect(identity).toMatchObject({
      id: "unix:nobody",
      via: "unix",
      uid: NOBODY,
      gid: NOBODY,
      user: "nobody",
      gids: [NOBODY],
    });
    expect(identity.groups).toEqual([groupNameOf(NOBODY)]);
    expect(identity.pid).toEqual(expect.any(Number));
    expect(identity.pid).not.toBe(process.pid);
  });

  it("name ids the user database does not know by number, and unknown credentials not at all", () => {
    // uid/gid 4242424 are in no /etc/passwd or /etc/group.
    expect(unixIdentity({ uid: 4242424, gid: 4242424, pid: 7, groups: [4242425] })).toEqual({
      id: "unix:4242424",
      via: "unix",
      uid: 4242424,
      gid: 4242424,
      pid: 7,
      gids: [4242424, 4242425],
      groups: ["4242424", "4242425"],
    });
    expect(unixIdentity({ uid: 0, gid: 0, pid: undefined, groups: undefined })).toEqual({
      id: "unix:root",
      via: "unix",
      uid: 0,
      gid: 0,
      user: "root",
      gids: [0],
      groups: ["root"],
    });
    expect(unixIdentity(undefined)).toEqual({ id: "unix", via: "unix" });
  });
});
