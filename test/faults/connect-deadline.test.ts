// Every connect has a deadline: to a hub whose process is frozen (its Unix backlog takes the
// connection, nobody answers), whose backlog is full, or to an https port that takes TCP
// connections and never speaks TLS. Each fails with ConnectTimeoutError naming the address and
// the deadline, and leaves nothing open behind it. The CLI's --timeout bounds its whole command.
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectUnix, listenUnix } from "../../hub/remote/unix.js";
import { ConnectError, connectHttps, ConnectTimeoutError, Hub } from "../../index.js";
import { beamhub } from "../cli/helpers.js";
import { killAll, startChild, within, type Child } from "./processes.js";

const DEADLINE_MS = 500;

let dir: string;
let frozenPath: string;
let frozen: Child;
let silent: Server;
let silentUrl: string;
const held = new Set<Socket>();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-deadline-"));
  frozenPath = join(dir, "frozen.sock");
  frozen = await startChild(join(import.meta.dirname, "fixtures", "frozen-listener.ts"), [frozenPath]);
  frozen.freeze();
  // Takes TCP connections and never says a word (no TLS): a hung https hub.
  silent = createServer((socket) => {
    held.add(socket);
    socket.on("error", () => undefined);
    socket.once("close", () => held.delete(socket));
    socket.resume(); // reads (and drops) what comes, so it sees the client's end
  });
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  silentUrl = `https://127.0.0.1:${(silent.address() as { port: number }).port}`;
});

afterAll(async () => {
  for (const socket of held) socket.destroy();
  await new Promise((resolve) => silent.close(resolve));
  await killAll();
  await rm(dir, { recursive: true, force: true });
});

/** Waits until the silent server holds no connection: the client let go of everything. */
async function allReleased(): Promise<void> {
  await within(
    (async () => {
      while (held.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    5000,
    "the client to close its connections to the silent server",
  );
}

describe("connectUnix", () => {
  it("fails with ConnectTimeoutError when a frozen hub never answers the handshake", async () => {
    const error = await within(
      connectUnix(frozenPath, { connectTimeout: DEADLINE_MS }).then(
        () => undefined,
        (failure: unknown) => failure,
      ),
      DEADLINE_MS + 5000,
      "connectUnix to give up",
    );
    expect(error).toBeInstanceOf(ConnectTimeoutError);
    expect(error).toBeInstanceOf(ConnectError);
    expect(error).toMatchObject({
      code: "ECONNECT_TIMEOUT",
      address: `unix://${frozenPath}`,
      timeoutMs: DEADLINE_MS,
    });
    expect((error as Error).message).toMatch(
      new RegExp(`unix://${frozenPath}.*${DEADLINE_MS} ms.*handshake`),
    );
  });

  it("fails with ConnectTimeoutError while the frozen hub's backlog is full", async () => {
    // Fill the backlog: connects succeed until the kernel refuses more.
    const fillers: Socket[] = [];
    try {
      for (let i = 0; i < 64; i++) {
        const socket = connect(frozenPath);
        fillers.push(socket);
        const outcome = await within(
          new Promise<string>((resolve) => {
            socket.once("connect", () => resolve("connected"));
            socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? "error"));
          }),
          3000,
          "a filler connect",
        );
        if (outcome !== "connected") break;
      }
      const error = await within(
        connectUnix(frozenPath, { connectTimeout: DEADLINE_MS }).then(
          () => undefined,
          (failure: unknown) => failure,
        ),
        DEADLINE_MS + 5000,
        "connectUnix to give up",
      );
      expect(error).toBeInstanceOf(ConnectTimeoutError);
      expect((error as Error).message).toMatch(/backlog/);
    } finally {
      for (const socket of fillers) socket.destroy();
    }
  });
});

describe.each(["auto", "http2", "websocket"] as const)("connectHttps (transport %s)", (transport) => {
  it("fails with ConnectTimeoutError when the hub takes the connection and never answers", async () => {
    const error = await within(
      connectHttps(silentUrl, { transport, connectTimeout: DEADLINE_MS }).then(
        () => undefined,
        (failure: unknown) => failure,
      ),
      DEADLINE_MS + 5000,
      "connectHttps to give up",
    );
    expect(error).toBeInstanceOf(ConnectTimeoutError);
    expect(error).toMatchObject({ code: "ECONNECT_TIMEOUT", address: silentUrl, timeoutMs: DEADLINE_MS });
    expect((error as Error).message).toContain(`${silentUrl} within ${DEADLINE_MS} ms`);
    await allReleased();
  });
});

describe("beamhub --timeout", () => {
  it("bounds call and ls against a frozen Unix hub (exit 3, naming the hub and the deadline)", async () => {
    for (const args of [["call", "anything"], ["ls"]]) {
      const result = await beamhub([...args, "--hub", `unix://${frozenPath}`, "--timeout", "1500"]);
      expect(result.code).toBe(3);
      expect(result.stderr).toContain(`unix://${frozenPath}`);
      expect(result.stderr).toMatch(/within 1500 ms/);
    }
  });

  it("bounds call against an https hub that never answers (exit 3)", async () => {
    const result = await beamhub(["call", "anything", "--hub", silentUrl, "--timeout", "1500"]);
    expect(result.code).toBe(3);
    expect(result.stderr).toContain(silentUrl.replace("https://", ""));
    expect(result.stderr).toMatch(/within 1500 ms/);
    await allReleased();
  });

  it("spends what the connect left on the call: a hanging service fails with ETIMEOUT (exit 1)", async () => {
    const hub = new Hub();
    await hub.register("hang", () => new Promise(() => undefined));
    const listener = await listenUnix(hub, join(dir, "live.sock"));
    try {
      const result = await beamhub(["call", "hang", "--hub", `unix://${listener.path}`, "--timeout", "1000"]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/ETIMEOUT/);
    } finally {
      await listener.close();
      await hub.close();
    }
  });
});
