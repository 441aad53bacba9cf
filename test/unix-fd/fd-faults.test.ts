// Faults and bad input: a killed peer, garbage from a plain client, lost fds (MSG_CTRUNC),
// invalid arguments, failed system calls. Nothing may crash or hang.
import { openSync, closeSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { FdError } from "../../fd/index.js";
import { dupFd, FdServer, FdSocket, FdSocketError, fdKind, socketPair } from "../../fd/index.js";
import { fdCount, once, type Peer, repoRoot, spawnTs, startPeer, tempDir, within } from "./helpers.js";

function pair(options: Parameters<typeof FdSocket.fromFd>[1] = {}): [FdSocket, FdSocket] {
  const [a, b] = socketPair();
  return [FdSocket.fromFd(a, options), FdSocket.fromFd(b)];
}

describe("faults", () => {
  let peer: Peer | undefined;
  const cleanups: (() => void)[] = [];
  afterEach(async () => {
    await peer?.close();
    peer = undefined;
    cleanups.splice(0).forEach((cleanup) => cleanup());
  });

  it("reports the peer's death (SIGKILL mid-stream) within 1 s", async () => {
    peer = await startPeer();
    const p = peer;
    p.socket.removeAllListeners("data");
    let bytes = 0;
    const flowing = new Promise<void>((resolve) =>
      p.socket.on("data", (data) => {
        bytes += data.length;
        if (bytes > 1024 * 1024) resolve();
      }),
    );
    p.send({ op: "stream", id: "stream" });
    await within(5000, "stream flowing", flowing);
    const closed = once<boolean>(p.socket, "close", 2000);
    const start = Date.now();
    p.child.kill("SIGKILL");
    await closed;
    expect(Date.now() - start).toBeLessThan(1000);
    expect(p.socket.destroyed).toBe(true);
  });

  it("survives garbage and a client that vanishes mid-write", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const server = await FdServer.listen(join(dir, "garbage.sock"));
    cleanups.push(() => void server.close());
    const accepted = once<FdSocket>(server, "connection");
    const client = net.connect(join(dir, "garbage.sock"));
    await once(client, "connect");
    const socket = await accepted;
    let bytes = 0;
    socket.on("data", (data, fds) => {
      bytes += data.length;
      expect(fds).toHaveLength(0);
    });
    const closed = once(socket, "close");
    socket.on("error", () => {});
    client.write(Buffer.from(Array.from({ length: 100_000 }, (_, i) => (i * 7919) & 0xff)));
    client.write(Buffer.alloc(1 << 20, 0xff));
    client.destroy();
    await closed;
    expect(bytes).toBeGreaterThan(0);
    expect(server.closed).toBe(false);
    // The server still accepts.
    const next = once<FdSocket>(server, "connection");
    const again = await FdSocket.connect(join(dir, "garbage.sock"));
    (await next).destroy();
    again.destroy();
  });

  it("detects fds the kernel had to drop (MSG_CTRUNC), closes the rest, and fails the socket", async () => {
    const before = fdCount();
    const [receiver, sender] = pair({ maxFdsPerRead: 2 });
    receiver.on("data", () => {
      throw new Error("no data event expected");
    });
    const failed = once<FdSocketError>(receiver, "error");
    const file = openSync("/dev/null", "r");
    sender.write(Buffer.from("xyz"), [dupFd(file), dupFd(file), dupFd(file)]);
    const error = await failed;
    expect(error).toBeInstanceOf(FdSocketError);
    expect(error.code).toBe("EFD_CTRUNC");
    sender.destroy();
    await once(sender, "close");
    closeSync(file);
    expect(fdCount()).toBe(before);
  });

  it("rejects bad fd lists without taking ownership", () => {
    const [a, b] = pair();
    const file = openSync("/dev/null", "r");
    const bad = (fds: number[], data: Uint8Array = Buffer.from("x")): unknown => {
      try {
        a.write(data, fds);
      } catch (error) {
        return (error as FdError).code;
      }
      return "accepted";
    };
    expect(bad([-1])).toBe("EFD_INVALID");
    expect(bad([1.5])).toBe("EFD_INVALID");
    expect(bad([file, file])).toBe("EFD_INVALID");
    expect(bad([file], new Uint8Array(0))).toBe("EFD_INVALID");
    const many = Array.from({ length: 300 }, (_, i) => 100_000 + i);
    expect(bad(many, Buffer.from("x"))).toBe("EFD_INVALID"); // 300 fds need 2 bytes
    expect(fdKind(file)).toBe("char"); // still ours
    closeSync(file);
    a.destroy();
    b.destroy();
  });

  it("fails the socket with errno EBADF when an fd is not open, and closes the batch's other fds", async () => {
    const before = fdCount();
    const [a, b] = pair();
    const errored = once<FdSocketError>(a, "error");
    const file = openSync("/dev/null", "r");
    a.write(Buffer.from("x"), [dupFd(file), 999_999]);
    const error = await errored;
    expect(error).toMatchObject({ code: "ESOCKET", errno: "EBADF", syscall: "sendmsg" });
    b.destroy();
    closeSync(file);
    await once(b, "close");
    expect(fdCount()).toBe(before);
  });

  it("closes fds written after destroy and returns false", async () => {
    const [a, b] = pair();
    a.destroy();
    const file = openSync("/dev/null", "r");
    const before = fdCount();
    expect(a.write(Buffer.from("x"), [dupFd(file)])).toBe(false);
    expect(fdCount()).toBe(before);
    expect(a.stats.fdsDropped).toBe(1);
    closeSync(file);
    b.destroy();
    a.destroy(); // idempotent
    await once(b, "close");
  });

  it("gives typed errors for failed connects", async () => {
    const { dir, cleanup } = tempDir();
    cleanups.push(cleanup);
    const missing = await FdSocket.connect(join(dir, "missing.sock")).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(FdSocketError);
    expect(missing).toMatchObject({ code: "ESOCKET", errno: "ENOENT", syscall: "connect" });
    const long = await FdSocket.connect(join(dir, "x".repeat(200))).catch((e: unknown) => e);
    expect(long).toMatchObject({ code: "ESOCKET", errno: "ENAMETOOLONG" });
  });

  it("a throwing 'data' listener surfaces as an uncaught exception, like any I/O callback's", async () => {
    const child = spawnTs(join(repoRoot, "test/unix-fd/fixtures/throwing.ts"), [], {}, "pipe");
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const code = await within(15_000, "child exit", new Promise((resolve) => child.on("exit", resolve)));
    expect(output).toBe("caught: listener failure\n");
    expect(code).toBe(0);
  });
});
