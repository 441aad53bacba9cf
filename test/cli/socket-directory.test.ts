// Socket squatting: the default socket's directory (<tmpdir>/beamhub-<uid> without
// XDG_RUNTIME_DIR, else XDG_RUNTIME_DIR) must be one no other user can put a socket in, and a
// socket file found there must be this user's. Real directories, real owners (chown to nobody,
// uid 65534, where this test runs as root) and modes; then real `beamhub serve` and `beamhub ls`
// processes that refuse, and a squatter's listening socket that must see no connection.
import { chmodSync, lstatSync, mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { chown, mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { UnsafeSocketPathError } from "../../index.js";
import { checkSocketDirectory } from "../../internal.js";
import { checkDefaultSocket, loadConfig } from "../../cli/config.js";
import { CliError } from "../../cli/errors.js";
import { beamhub, startCli, within } from "./helpers.js";

const uid = process.getuid!();
const isRoot = uid === 0;
const NOBODY = 65534;

let dir: string;
let serial = 0;
const savedEnv = { TMPDIR: process.env.TMPDIR, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR };
const cleanups: (() => Promise<void>)[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-socket-dir-"));
});

afterEach(async () => {
  process.env.TMPDIR = savedEnv.TMPDIR;
  if (savedEnv.TMPDIR === undefined) delete process.env.TMPDIR;
  process.env.XDG_RUNTIME_DIR = savedEnv.XDG_RUNTIME_DIR;
  if (savedEnv.XDG_RUNTIME_DIR === undefined) delete process.env.XDG_RUNTIME_DIR;
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A fresh directory to act as TMPDIR (XDG_RUNTIME_DIR unset). */
function freshTmp(): string {
  const tmp = join(dir, `tmp-${serial++}`);
  mkdirSync(tmp);
  process.env.TMPDIR = tmp;
  delete process.env.XDG_RUNTIME_DIR;
  return tmp;
}

/** A directory with `mode` (and `owner`) to act as XDG_RUNTIME_DIR. */
async function runtimeDir(mode: number, owner = uid): Promise<string> {
  const runtime = join(dir, `runtime-${serial++}`);
  mkdirSync(runtime);
  chmodSync(runtime, mode);
  if (owner !== uid) await chown(runtime, owner, owner);
  process.env.XDG_RUNTIME_DIR = runtime;
  return runtime;
}

/** What checkDefaultSocket threw (it must throw). */
function refusal(): { error: CliError; cause: UnsafeSocketPathError } {
  try {
    checkDefaultSocket();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    const cause = (error as CliError).cause;
    expect(cause).toBeInstanceOf(UnsafeSocketPathError);
    expect(cause).toMatchObject({ code: "EUNSAFE_SOCKET_PATH" });
    return { error: error as CliError, cause: cause as UnsafeSocketPathError };
  }
  throw new Error("checkDefaultSocket accepted an unsafe place");
}

describe("without XDG_RUNTIME_DIR: <tmpdir>/beamhub-<uid>", () => {
  it("is created 0700 whatever the umask, and is the default socket's directory", () => {
    const tmp = freshTmp();
    const previous = process.umask(0o022);
    try {
      expect(checkDefaultSocket()).toBe(join(tmp, `beamhub-${uid}`, "beamhub.sock"));
    } finally {
      process.umask(previous);
    }
    expect(lstatSync(join(tmp, `beamhub-${uid}`)).mode & 0o7777).toBe(0o700);
    // And again: an existing safe directory is simply used.
    expect(checkDefaultSocket()).toBe(join(tmp, `beamhub-${uid}`, "beamhub.sock"));
  });

  it.skipIf(!isRoot)(
    "is refused when another user created it first, naming the owner, mode and what to do",
    async () => {
      const tmp = freshTmp();
      const squatted = join(tmp, `beamhub-${uid}`);
      mkdirSync(squatted, { mode: 0o700 });
      await chown(squatted, NOBODY, NOBODY);
      const { error, cause } = refusal();
      expect(error.message).toContain(
        `refusing the socket directory ${squatted} (owner uid ${NOBODY}, mode 0700)`,
      );
      expect(error.message).toMatch(/it belongs to uid 65534, not to this user \(uid 0\)/);
      expect(error.message).toMatch(/Ask root to remove it.*--socket PATH/);
      expect(cause).toMatchObject({ path: squatted, owner: NOBODY, mode: 0o700 });
    },
  );

  it("is refused when group or others may write it, and accepted when they may only read", () => {
    const tmp = freshTmp();
    const open = join(tmp, `beamhub-${uid}`);
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(refusal().error.message).toMatch(
      /\(owner uid \d+, mode 0777\): group or others may write it.*chmod 700/,
    );
    chmodSync(open, 0o775);
    expect(refusal().cause.mode).toBe(0o775);
    chmodSync(open, 0o755);
    expect(checkDefaultSocket()).toBe(join(open, "beamhub.sock"));
  });

  it("is refused when it is a symbolic link, even to a safe directory", () => {
    const tmp = freshTmp();
    const target = join(tmp, "elsewhere");
    mkdirSync(target, { mode: 0o700 });
    symlinkSync(target, join(tmp, `beamhub-${uid}`));
    expect(refusal().error.message).toMatch(/: it is a symbolic link;/);
  });
});

describe("checkSocketDirectory", () => {
  it("refuses a path that is a file, not a directory, under either policy", () => {
    const file = join(dir, `file-${serial++}`);
    writeFileSync(file, "");
    for (const policy of ["private", "runtime"] as const) {
      expect(() => checkSocketDirectory(file, policy)).toThrow(UnsafeSocketPathError);
      expect(() => checkSocketDirectory(file, policy)).toThrow(/: it is not a directory;/);
    }
  });
});

describe("XDG_RUNTIME_DIR", () => {
  it("is accepted when private, or shared with the sticky bit", async () => {
    const runtime = await runtimeDir(0o700);
    expect(checkDefaultSocket()).toBe(join(runtime, "beamhub.sock"));
    chmodSync(runtime, 0o1777);
    expect(checkDefaultSocket()).toBe(join(runtime, "beamhub.sock"));
  });

  it("is refused when others or its group may write it without the sticky bit", async () => {
    const runtime = await runtimeDir(0o777);
    const { error, cause } = refusal();
    expect(error.message).toContain(`refusing the socket directory ${runtime} (owner uid ${uid}, mode 0777)`);
    expect(error.message).toMatch(/XDG_RUNTIME_DIR may be written by others and has no sticky bit/);
    expect(cause.mode).toBe(0o777);
    chmodSync(runtime, 0o770);
    expect(refusal().error.message).toMatch(/may be written by its group/);
  });

  it.skipIf(!isRoot)(
    "is refused when it belongs to another user (after su, it may still be theirs)",
    async () => {
      await runtimeDir(0o700, NOBODY);
      expect(refusal().error.message).toMatch(
        /XDG_RUNTIME_DIR belongs to uid 65534, not to this user \(uid 0\) or root/,
      );
    },
  );

  it.skipIf(!isRoot)(
    "in a sticky shared directory, refuses a socket file that another user put there",
    async () => {
      const runtime = await runtimeDir(0o1777);
      const squatter = await listenAsSquatter(join(runtime, "beamhub.sock"));
      const { error, cause } = refusal();
      expect(error.message).toMatch(
        /refusing the socket \S+beamhub\.sock \(owner uid 65534, mode 0\d+\): it belongs to uid 65534/,
      );
      expect(cause.owner).toBe(NOBODY);
      expect(squatter.connections).toBe(0);
    },
  );

  it("does not concern clients of a remote hub (only serve checks it then)", async () => {
    await runtimeDir(0o777);
    const config = loadConfig({ hub: "https://hub.example:8443" });
    expect(config.socketIsDefault).toBe(true);
    expect(config.hub.kind).toBe("https");
  });
});

/** A listening socket at `path`, owned by nobody, counting the connections it gets. */
async function listenAsSquatter(path: string): Promise<{ server: Server; connections: number }> {
  const squatter = { server: createServer(), connections: 0 };
  squatter.server.on("connection", (socket) => {
    squatter.connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => squatter.server.listen(path, resolve));
  await chown(path, NOBODY, NOBODY);
  cleanups.push(() => new Promise((resolve) => squatter.server.close(() => resolve())));
  return squatter;
}

describe.skipIf(!isRoot)("the beamhub command", { timeout: 45_000 }, () => {
  /** A fresh folder for a CLI run's TMPDIR. */
  function cliTmp(): string {
    const tmp = join(dir, `cli-${serial++}`);
    mkdirSync(tmp);
    return tmp;
  }

  it("serve refuses a squatted <tmpdir>/beamhub-<uid> and listens nowhere", async () => {
    const tmp = cliTmp();
    const squatted = join(tmp, `beamhub-${uid}`);
    mkdirSync(squatted, { mode: 0o700 });
    await chown(squatted, NOBODY, NOBODY);
    const { code, stderr } = await beamhub(["serve", "--listen-https", "off"], {
      env: { TMPDIR: tmp, XDG_RUNTIME_DIR: "" },
    });
    expect(code).toBe(1);
    expect(stderr).toContain(
      `beamhub: refusing the socket directory ${squatted} (owner uid 65534, mode 0700)`,
    );
    expect(() => lstatSync(join(squatted, "beamhub.sock"))).toThrow();
  });

  it("a client refuses a squatter's socket in a sticky XDG_RUNTIME_DIR without connecting to it", async () => {
    const runtime = join(dir, `cli-runtime-${serial++}`);
    mkdirSync(runtime);
    chmodSync(runtime, 0o1777);
    const squatter = await listenAsSquatter(join(runtime, "beamhub.sock"));
    const { code, stderr } = await beamhub(["ls"], { env: { XDG_RUNTIME_DIR: runtime } });
    expect(code).toBe(1);
    expect(stderr).toMatch(/beamhub: refusing the socket \S+beamhub\.sock \(owner uid 65534/);
    expect(squatter.connections).toBe(0);
  });

  it("serve creates its private directory and clients reach it there", async () => {
    const tmp = cliTmp();
    const env = { TMPDIR: tmp, XDG_RUNTIME_DIR: "" };
    const hub = await startCli(["serve", "--listen-https", "off"], /press Ctrl-C/, env);
    cleanups.push(() => hub.stop());
    expect(hub.stderr()).toContain(
      `serving on unix://${join(tmp, `beamhub-${uid}`, "beamhub.sock")} (mode 0600`,
    );
    expect(lstatSync(join(tmp, `beamhub-${uid}`)).mode & 0o7777).toBe(0o700);
    const listed = await within(beamhub(["ls", "--json"], { env }), 20_000, "beamhub ls");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("hub.info");
  });
});
