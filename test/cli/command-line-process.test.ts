// The command line through real processes, where only a process shows it: the exit code of a
// usage error, the entry module started through a symbolic link (as npx and global installs
// start it), and `connect` waiting for a service that is not registered yet.
import { execFile } from "node:child_process";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Hub, listenUnix, VERSION, type UnixListener } from "../../index.js";
import { beamhub, cli, startCli } from "./helpers.js";

let dir: string;
let socket: string;
let hub: Hub;
let listener: UnixListener;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-command-line-process-"));
  socket = join(dir, "hub.sock");
  hub = new Hub();
  listener = await listenUnix(hub, socket);
});

afterAll(async () => {
  await listener?.close();
  await hub?.close();
  await rm(dir, { recursive: true, force: true });
});

describe("beamhub as a process", { timeout: 60_000 }, () => {
  it("exits 2 on a usage error, printing the command's usage", async () => {
    const result = await beamhub(["connect", "pg", "--listen", "nope", "--socket", socket]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--listen: listen address "nope" must look like host:port');
    expect(result.stderr).toContain("usage: beamhub connect <name>");
  });

  it("runs when started through a symbolic link to its entry module", async () => {
    const link = join(dir, "beamhub");
    await symlink(cli, link);
    const result = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(
        process.execPath,
        ["--import", "tsx", link, "--version"],
        { cwd: join(cli, "../.."), timeout: 20_000 },
        (error, stdout) => resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout }),
      );
    });
    expect(result).toEqual({ code: 0, stdout: `${VERSION}\n` });
  });

  it("connect to a service that is not registered warns, keeps waiting, and says when it comes", async () => {
    const connect = await startCli(
      ["connect", "ghost.db", "--listen", "127.0.0.1:0", "--socket", socket],
      /no service ghost\.db is registered/,
    );
    try {
      expect(connect.stderr()).toContain(
        `warning: no service ghost.db is registered on unix://${socket}: connections to it fail until one is; waiting for it`,
      );
      expect(connect.stderr()).toMatch(/listening on 127\.0\.0\.1:\d+ -> service ghost\.db/);
      const registration = await hub.register("ghost.db", () => "boo");
      await expect
        .poll(() => connect.stderr(), { timeout: 10_000 })
        .toContain(`service ghost.db is registered now (${registration.info.id})`);
      expect(connect.child.exitCode).toBeNull();
      await registration.unregister();
    } finally {
      await connect.stop();
    }
  });
});
