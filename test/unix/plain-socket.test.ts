/** The Unix transport's listener without the fd addon: the socket file's mode and its takeover rules. */
import { linkSync, lstatSync, renameSync, writeFileSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FdSocketError } from "../../fd/index.js";
import { listenPlainUnix } from "../../transports/unix/plain-socket.js";

describe("listenPlainUnix", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "beamhub-plain-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives the socket its mode before it appears, leaves no staging behind, and removes it on close", async () => {
    const path = join(dir, "a.sock");
    const server = await listenPlainUnix(path, 0o600, (socket) => socket.destroy());
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(lstatSync(path).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(["a.sock"]);
    await server.close();
    expect(await readdir(dir)).toEqual([]);
  });

  it("never replaces a live socket or a file that is not a socket, and takes over a stale one", async () => {
    const live = join(dir, "live.sock");
    const other = createServer();
    await new Promise<void>((resolve) => other.listen(live, resolve));
    await expect(listenPlainUnix(live, 0o600, () => undefined)).rejects.toMatchObject({
      code: "EADDRINUSE",
    });
    // A server that died without removing its socket file leaves a stale one.
    other.close();
    const stale = join(dir, "stale.sock");
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(stale, resolve));
    // libuv removes the file on close; keep a hard link to bring a dead socket file back.
    const keep = join(dir, "keep");
    linkSync(stale, keep);
    await new Promise<void>((resolve) => dead.close(() => resolve()));
    renameSync(keep, stale);
    const server = await listenPlainUnix(stale, 0o600, () => undefined);
    await server.close();
    const file = join(dir, "file.sock");
    writeFileSync(file, "not a socket");
    const failure = await listenPlainUnix(file, 0o600, () => undefined).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(FdSocketError);
    expect(failure).toMatchObject({ code: "EADDRINUSE" });
    expect(lstatSync(file).isFile()).toBe(true);
  });
});
