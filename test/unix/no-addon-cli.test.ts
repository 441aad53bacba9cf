/**
 * `BEAMHUB_NO_ADDON=1`: the real `beamhub serve` serves on a plain Unix socket, and `ls` and
 * `call` work over it, with or without the addon on the client's side; a missing socket is
 * reported as a missing hub, not as a missing addon.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { beamhub, startCli, type RunningCli } from "../cli/helpers.js";

const NO_ADDON = { BEAMHUB_NO_ADDON: "1" };

describe("beamhub without the fd addon", () => {
  let dir: string;
  let socket: string;
  let serve: RunningCli | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-plain-cli-"));
    socket = join(dir, "hub.sock");
    serve = await startCli(["serve", "--socket", socket, "--listen-https", "off"], /press Ctrl-C/, NO_ADDON);
  });

  afterAll(async () => {
    await serve?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it("serves, and says that only fd passing is lost and how to get it back", () => {
    const log = serve!.stderr();
    expect(log).toContain("fd passing unavailable: disabled by BEAMHUB_NO_ADDON=1");
    expect(log).toContain("only passing file descriptors fails");
    expect(log).toContain("npm rebuild beamhub");
    expect(log).not.toContain("built from older sources");
  });

  it("lists and calls over the plain socket, from clients with and without the addon", async () => {
    const listed = await beamhub(["ls", "--socket", socket], { env: NO_ADDON });
    expect(listed.stderr).toBe("");
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("hub.info");
    const withAddon = await beamhub(["ls", "--socket", socket]);
    expect(withAddon.code).toBe(0);
    expect(withAddon.stdout).toContain("hub.info");
    // hub.info answers only the hub's owners: the peer is known as this user by the socket's mode.
    const called = await beamhub(["call", "--socket", socket, "hub.info"], { env: NO_ADDON });
    expect(called.stderr).toBe("");
    expect(called.code).toBe(0);
    expect(called.stdout).toContain('"pid"');
  });

  it("reports a missing socket as a missing hub", async () => {
    const missing = await beamhub(["ls", "--socket", join(dir, "nope.sock")], { env: NO_ADDON });
    expect(missing.code).toBe(3);
    expect(missing.stderr).toContain("ENOENT");
    expect(missing.stderr).toContain("Is `beamhub serve` running?");
    expect(missing.stderr).not.toMatch(/fd passing|addon/);
  });
});
