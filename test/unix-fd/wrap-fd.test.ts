// wrapFd / detachFd in one process: the Node type each kind gets, and the hand-over rules.
import { existsSync, openSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import tls from "node:tls";
import { afterEach, describe, expect, it } from "vitest";
import { detachFd, dupFd, fdKind, OwnedFd, socketPair, wrapFd } from "../../fd/index.js";
import { fdsPointingTo, once, tempDir } from "./helpers.js";

describe("wrapFd and detachFd", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => cleanups.splice(0).forEach((cleanup) => cleanup()));
  function dir(): string {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    return dir;
  }

  it("gives a regular file an OwnedFd whose close is idempotent", () => {
    const path = join(dir(), "f.txt");
    writeFileSync(path, "x");
    const wrapped = wrapFd(openSync(path, "r"));
    expect(wrapped.kind).toBe("file");
    if (!("handle" in wrapped)) throw new Error("expected a handle");
    expect(wrapped.handle).toBeInstanceOf(OwnedFd);
    expect(fdsPointingTo(path)).toBe(1);
    wrapped.handle.close();
    wrapped.handle.close();
    expect(wrapped.handle.fd).toBe(-1);
    expect(fdsPointingTo(path)).toBe(0);
  });

  it("gives a connected Unix socket a net.Socket that talks to the other end", async () => {
    const [a, b] = socketPair();
    const left = wrapFd(a);
    const right = wrapFd(b);
    if (!("socket" in left) || !("socket" in right)) throw new Error("expected sockets");
    const got = once<Buffer>(right.socket, "data");
    left.socket.write("over a socketpair");
    expect((await got).toString()).toBe("over a socketpair");
    left.socket.destroy();
    right.socket.destroy();
  });

  it("detaches a Unix net.Server without losing its socket file, and the wrapped copy accepts", async () => {
    const path = join(dir(), "server.sock");
    const server = net.createServer();
    await new Promise<void>((resolve) => server.listen(path, resolve));
    const fd = detachFd(server);
    expect(existsSync(path)).toBe(true);
    expect(fdKind(fd)).toBe("unix-listener");
    const wrapped = wrapFd(fd);
    if (!("server" in wrapped)) throw new Error("expected a server");
    wrapped.server.on("connection", (conn) => conn.end("hello from the copy"));
    const text = await new Promise<string>((resolve) => {
      let data = "";
      net
        .connect(path)
        .on("data", (chunk: Buffer) => (data += chunk.toString()))
        .on("end", () => resolve(data));
    });
    expect(text).toBe("hello from the copy");
    wrapped.server.close();
  });

  it("keeps a TCP connection alive across detach (destroy, not end)", async () => {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const accepted = once<net.Socket>(server, "connection");
    const client = net.connect((server.address() as net.AddressInfo).port, "127.0.0.1");
    const original = await accepted;
    const copy = wrapFd(detachFd(original));
    if (!("socket" in copy)) throw new Error("expected a socket");
    expect(original.destroyed).toBe(true);
    const echoed = once<Buffer>(client, "data");
    copy.socket.on("data", (data: Buffer) => copy.socket.write(data));
    client.write("still connected");
    expect((await echoed).toString()).toBe("still connected");
    client.destroy();
    copy.socket.destroy();
    server.close();
  });

  it("refuses what cannot be handed over", () => {
    expect(() => detachFd(new net.Socket())).toThrow(
      expect.objectContaining({ code: "EFD_INVALID" }) as Error,
    );
    expect(() => detachFd(new tls.TLSSocket(new net.Socket()))).toThrow(
      expect.objectContaining({ code: "EFD_INVALID" }) as Error,
    );
    const [a, b] = socketPair();
    const wrapped = wrapFd(dupFd(a), "unix");
    if (!("socket" in wrapped)) throw new Error("expected a socket");
    wrapped.socket.destroy();
    for (const fd of [a, b]) new OwnedFd("unix", fd).close();
  });
});
