// Passing every kind of fd to a real child process, and checking what it can do with it.
import { execFileSync } from "node:child_process";
import { closeSync, constants, openSync, writeFileSync } from "node:fs";
import net from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  closeFd,
  detachFd,
  dupFd,
  FdSocket,
  fdKind,
  fdPassingAvailable,
  socketPair,
  wrapFd,
} from "../../fd/index.js";
import { encodeFrame, type Frame, FrameReader } from "./fixtures/frames.js";
import { once, type Peer, startPeer, within } from "./helpers.js";

/** Connects a TCP or Unix client, sends a line, and returns everything it reads until EOF. */
function clientExchange(options: net.NetConnectOpts, line?: string): Promise<string> {
  return within(
    5000,
    "client exchange",
    new Promise<string>((resolve, reject) => {
      const client = net.connect(options, () => {
        if (line !== undefined) client.write(`${line}\n`);
      });
      let text = "";
      client.on("data", (chunk: Buffer) => (text += chunk.toString()));
      client.on("end", () => resolve(text));
      client.on("error", reject);
    }),
  );
}

function makeFile(dir: string, name: string, content: string): number {
  const path = join(dir, name);
  writeFileSync(path, content);
  return openSync(path, "r");
}

describe("fd passing between processes", () => {
  let peer: Peer;
  const pid = (): number => peer.child.pid as number;

  beforeAll(async () => {
    expect(fdPassingAvailable()).toBe(true);
    peer = await startPeer();
  });
  afterAll(async () => {
    await peer?.close();
  });

  it("passes a regular file; the child reads it", async () => {
    const fd = makeFile(peer.dir, "a.txt", "hello file");
    const { msg } = await peer.request({ op: "read-files" }, [fd]);
    expect(msg).toMatchObject({ kinds: ["file"], contents: ["hello file"] });
  });

  it("passes several fds in one message, in order", async () => {
    const fds = ["one", "two", "three"].map((text) => makeFile(peer.dir, `${text}.txt`, text));
    const { msg } = await peer.request({ op: "read-files" }, fds);
    expect(msg.contents).toEqual(["one", "two", "three"]);
  });

  it("passes both ends of a pipe", async () => {
    const fifo = join(peer.dir, "fifo");
    execFileSync("mkfifo", [fifo]);
    const readEnd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeEnd = openSync(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    expect(fdKind(readEnd)).toBe("pipe");
    // The child reads what we write.
    const reading = peer.request({ op: "read-pipe" }, [readEnd]);
    const local = wrapFd(writeEnd);
    if (!("socket" in local)) throw new Error("expected a socket");
    local.socket.end("through the pipe");
    expect((await reading).msg).toMatchObject({ kind: "pipe", content: "through the pipe" });

    // And we read what the child writes.
    const fifo2 = join(peer.dir, "fifo2");
    execFileSync("mkfifo", [fifo2]);
    const readEnd2 = openSync(fifo2, constants.O_RDONLY | constants.O_NONBLOCK);
    const writeEnd2 = openSync(fifo2, constants.O_WRONLY | constants.O_NONBLOCK);
    const reader = wrapFd(readEnd2);
    if (!("socket" in reader)) throw new Error("expected a socket");
    let text = "";
    reader.socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
    const ended = once(reader.socket, "end");
    await peer.request({ op: "write-pipe", text: "from the child" }, [writeEnd2]);
    await ended;
    expect(text).toBe("from the child");
  });

  it.each(["tcp", "unix"] as const)(
    "hands an accepted %s connection to the child, which answers",
    async (kind) => {
      const server = net.createServer({ pauseOnConnect: true });
      const handedOver = new Promise<Frame>((resolve, reject) => {
        server.on("connection", (socket) => {
          peer.request({ op: "serve-conn" }, [detachFd(socket)]).then(resolve, reject);
        });
      });
      const address: net.NetConnectOpts =
        kind === "tcp" ? { port: 0, host: "127.0.0.1" } : { path: join(peer.dir, "conn.sock") };
      await new Promise<void>((resolve) =>
        server.listen(kind === "tcp" ? { port: 0, host: "127.0.0.1" } : address, resolve),
      );
      const target: net.NetConnectOpts =
        kind === "tcp" ? { port: (server.address() as net.AddressInfo).port, host: "127.0.0.1" } : address;
      const answer = clientExchange(target, "ping");
      expect((await handedOver).msg.kind).toBe(kind);
      expect(await answer).toBe(`child ${pid()} got: ping\n`);
      server.close();
    },
  );

  it.each(["tcp-listener", "unix-listener"] as const)(
    "hands a %s to the child, which accepts on it",
    async (kind) => {
      const server = net.createServer();
      const address =
        kind === "tcp-listener" ? { port: 0, host: "127.0.0.1" } : { path: join(peer.dir, "listen.sock") };
      await new Promise<void>((resolve) => server.listen(address, resolve));
      const target: net.NetConnectOpts =
        kind === "tcp-listener"
          ? { port: (server.address() as net.AddressInfo).port, host: "127.0.0.1" }
          : address;
      const { msg } = await peer.request({ op: "accept" }, [detachFd(server)]);
      expect(msg.kind).toBe(kind);
      expect(await clientExchange(target)).toBe(`accepted by ${pid()}\n`);
    },
  );

  it("passes more than 253 fds in one write (split across sendmsg calls)", async () => {
    const file = makeFile(peer.dir, "many.txt", "x");
    const fds = Array.from({ length: 600 }, () => dupFd(file));
    closeSync(file);
    const before = peer.socket.stats.sendCalls;
    const { msg } = await peer.request({ op: "count-fds" }, fds);
    expect(msg).toMatchObject({ count: 600, kinds: { file: 600 } });
    expect(peer.socket.stats.sendCalls - before).toBeGreaterThanOrEqual(3);
  });

  it("keeps fds FIFO with data under many small interleaved writes", async () => {
    const files = Array.from({ length: 5 }, (_, i) => makeFile(peer.dir, `tag${i}.txt`, `t${i}`));
    let sentFds = 0;
    for (let i = 0; i < 3000; i++) {
      const count = i % 4;
      const tags = Array.from({ length: count }, (_, j) => `t${(i + j) % 5}`);
      const fds = Array.from({ length: count }, (_, j) => dupFd(files[(i + j) % 5] as number));
      sentFds += count;
      peer.send({ op: "tag", id: `tag-${i}`, tags }, fds);
      if (i % 500 === 0) await new Promise((resolve) => setImmediate(resolve)); // some across ticks
    }
    files.forEach((fd) => closeSync(fd));
    const { msg } = await peer.request({ op: "tag-summary" });
    expect(msg).toMatchObject({ tagged: 3000, mismatches: [], pending: 0 });
    expect(sentFds).toBe(4500);
  });

  it("receives fds from the child", async () => {
    const first = await peer.request({ op: "send-back", n: 50 });
    await within(
      5000,
      "49 more frames",
      (async () => {
        while (peer.unsolicited.length < 49) await new Promise((resolve) => setTimeout(resolve, 5));
      })(),
    );
    const frames = [first, ...peer.unsolicited.splice(0)];
    expect(frames.map((f) => f.fds.length)).toEqual(Array(50).fill(1));
    for (const frame of frames) {
      expect(fdKind(frame.fds[0] as number)).not.toBe("unknown");
      closeFd(frame.fds[0] as number);
    }
  });

  it("sets up a direct channel from a socketpair: traffic and fds flow without the server", async () => {
    const [mine, theirs] = socketPair();
    await peer.request({ op: "adopt-channel" }, [theirs]);
    const channel = FdSocket.fromFd(mine);
    const reader = new FrameReader();
    const echoed = new Promise<Frame>((resolve) =>
      channel.on("data", (data, fds) => reader.push(data, fds).forEach(resolve)),
    );
    const file = makeFile(peer.dir, "direct.txt", "direct");
    const serverBytes = peer.socket.stats.bytesReceived;
    channel.write(encodeFrame({ hello: "direct" }, 1), [file]);
    const frame = await within(5000, "direct echo", echoed);
    expect(frame.msg).toEqual({ echo: { hello: "direct" }, pid: pid() });
    expect(frame.fds).toHaveLength(1);
    expect(fdKind(frame.fds[0] as number)).toBe("file");
    closeFd(frame.fds[0] as number);
    expect(peer.socket.stats.bytesReceived).toBe(serverBytes); // nothing went through the hub link
    channel.destroy();
    await once(channel, "close");
  });
});
