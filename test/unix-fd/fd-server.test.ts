// FdServer: socket file permissions, stale sockets, a live server in the way, and FdSocket's
// connection lifecycle (half-close, close events, backlog timeouts).
import {
  closeSync,
  existsSync,
  lstatSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { closeFd, FdServer, FdSocket, FdSocketError, loadFdAddon, socketPair } from "../../fd/index.js";
import { once, repoRoot, spawnTs, tempDir, within } from "./helpers.js";

async function roundTrip(path: string, server: FdServer): Promise<string> {
  const accepted = once<FdSocket>(server, "connection");
  const client = await FdSocket.connect(path);
  const conn = await accepted;
  conn.on("error", () => {});
  client.on("error", () => {});
  conn.on("data", (data) => conn.write(Buffer.concat([Buffer.from("echo:"), data])));
  const reply = once<Buffer>(client, "data");
  client.write(Buffer.from("hi"));
  const text = (await reply).toString();
  client.destroy();
  conn.destroy();
  return text;
}

describe("FdServer", () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  function dir(): string {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    return dir;
  }

  it("creates the socket file with mode 0600 by default, whatever the umask", async () => {
    const path = join(dir(), "default.sock");
    const old = process.umask(0);
    try {
      const server = await FdServer.listen(path);
      cleanups.push(() => server.close());
      expect(statSync(path).mode & 0o777).toBe(0o600);
    } finally {
      process.umask(old);
    }
  });

  it("applies a configured mode exactly", async () => {
    const path = join(dir(), "group.sock");
    const old = process.umask(0o077);
    try {
      const server = await FdServer.listen(path, { mode: 0o660 });
      cleanups.push(() => server.close());
      expect(statSync(path).mode & 0o777).toBe(0o660);
    } finally {
      process.umask(old);
    }
  });

  it("replaces the stale socket file of a crashed server", async () => {
    const path = join(dir(), "stale.sock");
    const child = spawnTs(join(repoRoot, "test/unix-fd/fixtures/listener.ts"), [path], {}, "pipe");
    await within(15_000, "child listening", once(child.stdout as NodeJS.EventEmitter, "data", 15_000));
    const exited = once(child, "exit");
    child.kill("SIGKILL");
    await exited;
    expect(lstatSync(path).isSocket()).toBe(true); // left behind
    const refused = await FdSocket.connect(path).catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "ESOCKET", errno: "ECONNREFUSED" });

    const server = await FdServer.listen(path);
    cleanups.push(() => server.close());
    expect(await roundTrip(path, server)).toBe("echo:hi");
  });

  it("refuses to take over from a live server, which keeps working", async () => {
    const path = join(dir(), "live.sock");
    const first = await FdServer.listen(path);
    cleanups.push(() => first.close());
    const probe = once<FdSocket>(first, "connection"); // the probe connects and closes at once
    const error = await FdServer.listen(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FdSocketError);
    expect(error).toMatchObject({ code: "EADDRINUSE", path });
    const probed = await probe;
    await once(probed, "close"); // it sees a connection that ends without a byte
    expect(probed.stats.bytesReceived).toBe(0);
    expect(await roundTrip(path, first)).toBe("echo:hi");
  });

  it("never removes a path that is not a socket", async () => {
    const path = join(dir(), "file.sock");
    writeFileSync(path, "precious");
    await expect(FdServer.listen(path)).rejects.toMatchObject({ code: "EADDRINUSE" });
    expect(readFileSync(path, "utf8")).toBe("precious");
  });

  it("unlinks its socket file on close, but not a successor's", async () => {
    const d = dir();
    const path = join(d, "close.sock");
    const server = await FdServer.listen(path);
    await server.close();
    await server.close(); // idempotent
    expect(existsSync(path)).toBe(false);

    const old = await FdServer.listen(path);
    // Someone replaces the file (e.g. a new server after a stale-socket takeover).
    const addon = loadFdAddon();
    unlinkSync(path);
    const successor = await FdServer.listen(path);
    cleanups.push(() => successor.close());
    await old.close();
    expect(lstatSync(path).isSocket()).toBe(true);
    expect(addon.maxFdsPerMessage).toBe(253);
  });

  it("times out connecting while the backlog stays full", async () => {
    const path = join(dir(), "full.sock");
    const addon = loadFdAddon();
    const listener = addon.listen(path, 0, 0o600); // never accepts
    cleanups.push(() => addon.close(listener));
    const held: FdSocket[] = [];
    cleanups.push(() => held.forEach((s) => s.destroy()));
    let error: unknown;
    for (let i = 0; i < 20 && error === undefined; i++) {
      await FdSocket.connect(path, { timeoutMs: 100 }).then(
        (s) => held.push(s),
        (e: unknown) => (error = e),
      );
    }
    expect(error).toMatchObject({ code: "ETIMEDOUT", errno: "EAGAIN" });
  });
});

describe("FdSocket lifecycle", () => {
  function pair(options: Parameters<typeof FdSocket.fromFd>[1] = {}): [FdSocket, FdSocket] {
    const [a, b] = socketPair();
    return [FdSocket.fromFd(a, options), FdSocket.fromFd(b, options)];
  }

  it("half-closes: the other side may still answer, then both close", async () => {
    const [a, b] = pair({ allowHalfOpen: true });
    const events: string[] = [];
    a.on("close", () => events.push("a close"));
    b.on("close", () => events.push("b close"));
    b.on("end", () => {
      events.push("b end");
      b.write(Buffer.from("answer after end"));
      b.end();
    });
    const got = once<Buffer>(a, "data");
    const closed = Promise.all([once(a, "close"), once(b, "close")]);
    a.write(Buffer.from("question"));
    a.end();
    expect((await got).toString()).toBe("answer after end");
    await within(2000, "both closed", closed);
    expect(events.slice().sort()).toEqual(["a close", "b close", "b end"]);
    expect(events.indexOf("b end")).toBeLessThan(events.indexOf("b close"));
    expect(a.destroyed && b.destroyed).toBe(true);
  });

  it("ends its own side when the peer ends (allowHalfOpen false)", async () => {
    const [a, b] = pair();
    const closed = Promise.all([once<boolean>(a, "close"), once<boolean>(b, "close")]);
    a.end();
    expect(await closed).toEqual([false, false]);
  });

  it("emits drain after the queue went over the high-water mark", async () => {
    const [a, b] = pair({ highWaterMark: 64 * 1024 });
    let received = 0;
    b.on("data", (data) => (received += data.length));
    let writes = 0;
    while (a.write(Buffer.alloc(16 * 1024))) writes++;
    expect(a.writableLength).toBeGreaterThanOrEqual(64 * 1024);
    await once(a, "drain");
    expect(a.writableLength).toBe(0);
    a.end();
    await once(b, "close");
    expect(received).toBe((writes + 1) * 16 * 1024);
  });

  it("adopts only Unix stream sockets, and leaves the fd to the caller on refusal", () => {
    const file = openSync("/dev/null", "r");
    expect(() => FdSocket.fromFd(file)).toThrow(expect.objectContaining({ code: "EFD_INVALID" }) as Error);
    closeSync(file); // still ours
    const [x, y] = socketPair();
    const s = FdSocket.fromFd(x);
    expect(() => FdSocket.fromFd(x)).toThrow(expect.objectContaining({ code: "EFD_INVALID" }) as Error); // already polled
    s.destroy();
    closeFd(y);
  });
});
