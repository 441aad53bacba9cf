// The TCP gateway against a plain TCP echo server: relay and fd hand-off, in one process
// (memory) and over the Unix transport; half-close, refused and killed upstreams, no fd leaks.
import { mkdtemp, rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectTcp, exposeTcp, type GatewayMode } from "../../gateway/index.js";
import { Hub, connectUnix, listenUnix, type HubClient, type UnixListener } from "../../index.js";
import { within } from "../compliance/suite.js";
import { openFds } from "./postgres.js";

let dir: string;
let hub: Hub;
let listener: UnixListener;
let echo: Server;
let echoPort: number;
const upstreamSockets = new Set<Socket>();
let fdsBefore: number;

/** Echoes bytes; on the client's FIN it answers "<eof>" and then ends too (half-close). */
function startEcho(): Promise<void> {
  echo = createServer({ allowHalfOpen: true }, (socket) => {
    upstreamSockets.add(socket);
    socket.on("close", () => upstreamSockets.delete(socket));
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => socket.write(chunk));
    socket.on("end", () => socket.end("<eof>"));
  });
  return new Promise((resolve) =>
    echo.listen(0, "127.0.0.1", () => {
      echoPort = (echo.address() as { port: number }).port;
      resolve();
    }),
  );
}

beforeAll(async () => {
  fdsBefore = openFds();
  dir = await mkdtemp(join(tmpdir(), "beamhub-gateway-"));
  hub = new Hub();
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  await startEcho();
});

afterAll(async () => {
  await listener.close();
  await hub.close();
  await new Promise((resolve) => echo.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

/** Connects to the gateway and collects what arrives until the connection closes. */
function client(port: number): {
  socket: Socket;
  received: () => string;
  closed: Promise<{ error?: string }>;
  ended: Promise<void>;
} {
  const socket = connect({ port, host: "127.0.0.1", allowHalfOpen: true });
  let text = "";
  socket.on("data", (chunk) => (text += chunk.toString()));
  let error: string | undefined;
  socket.on("error", (e: NodeJS.ErrnoException) => (error = e.code ?? e.message));
  const closed = new Promise<{ error?: string }>((resolve) =>
    socket.on("close", () => resolve(error === undefined ? {} : { error })),
  );
  const ended = new Promise<void>((resolve) => {
    socket.once("end", resolve);
    socket.once("close", resolve);
  });
  return { socket, received: () => text, closed, ended };
}

async function until(check: () => boolean, what: string, ms = 3_000): Promise<void> {
  const started = Date.now();
  while (!check()) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const setups: { transport: string; mode: GatewayMode }[] = [
  { transport: "memory", mode: "relay" },
  { transport: "memory", mode: "handoff" },
  { transport: "unix", mode: "relay" },
  { transport: "unix", mode: "handoff" },
  { transport: "unix", mode: "auto" },
];

describe.each(setups)("gateway over $transport, $mode", ({ transport, mode }) => {
  let exposer: HubClient;
  let caller: HubClient;
  const name = `tcp.echo.${transport}.${mode}`;

  beforeAll(async () => {
    exposer = transport === "memory" ? hub.session() : await connectUnix(join(dir, "hub.sock"));
    caller = transport === "memory" ? hub.session() : await connectUnix(join(dir, "hub.sock"));
  });
  afterAll(async () => {
    await exposer.close();
    await caller.close();
  });

  it("carries bytes both ways and propagates half-close", async () => {
    await using exposure = await exposeTcp(exposer, name, `tcp://127.0.0.1:${echoPort}`);
    await using gateway = await connectTcp(caller, name, { mode });
    const c = client(gateway.address.port);
    c.socket.write("hello ");
    await until(() => c.received() === "hello ", "the echo");
    // Bulk both ways: 4 MiB written at once exercises backpressure on every hop.
    const bulk = Buffer.alloc(4 << 20, "x");
    c.socket.write(bulk);
    c.socket.end(); // half-close: the echo still answers after our FIN
    const { error } = await within(c.closed, 10_000, "the connection to finish");
    expect(error).toBeUndefined();
    expect(c.received().length).toBe(6 + bulk.length + 5);
    expect(c.received().endsWith("x<eof>")).toBe(true);
    if (mode !== "relay") expect(gateway.mode).toBe("handoff");
    expect(exposure.connections).toBe(0);
    const handedOver = mode === "relay" ? 0 : 1;
    expect(gateway.stats).toEqual({
      accepted: 1,
      handedOver,
      toPrograms: 0,
      relayed: 1 - handedOver,
      failed: 0,
    });
    expect(exposure.stats).toEqual({ handedOver, relayed: 1 - handedOver, failed: 0 });
  });

  it("fails a refused upstream at once with EUPSTREAM and closes the client", async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const { port } = s.address() as { port: number };
        s.close(() => resolve(port));
      });
    });
    const exposeLog: string[] = [];
    const connectLog: string[] = [];
    await using exposure = await exposeTcp(exposer, `${name}.refused`, `tcp://127.0.0.1:${closedPort}`, {
      log: (line) => exposeLog.push(line),
    });
    const call = caller.call(`${name}.refused`, { handoff: true }, { timeout: 5_000 });
    await expect(call).rejects.toMatchObject({ code: "EUPSTREAM" });
    await expect(call).rejects.toThrow(`127.0.0.1:${closedPort}: ECONNREFUSED`);

    await using gateway = await connectTcp(caller, `${name}.refused`, {
      mode,
      log: (line) => connectLog.push(line),
    });
    const c = client(gateway.address.port);
    c.socket.write("anyone?");
    await within(c.closed, 2_000, "the client connection to close");
    expect(c.received()).toBe("");
    await until(() => connectLog.length > 0, "the log line");
    expect(connectLog.join("\n")).toMatch(
      new RegExp(`EUPSTREAM.*127\\.0\\.0\\.1:${closedPort}: ECONNREFUSED`),
    );
    expect(exposeLog.join("\n")).toContain("ECONNREFUSED");
    expect(gateway.stats).toMatchObject({ accepted: 1, handedOver: 0, relayed: 0, failed: 1 });
    expect(exposure.stats).toEqual({ handedOver: 0, relayed: 0, failed: 2 }); // the call above, and this
  });

  it("closes the client when the upstream dies mid-session, and the upstream when the client resets", async () => {
    await using exposure = await exposeTcp(exposer, `${name}.kill`, `tcp://127.0.0.1:${echoPort}`);
    await using gateway = await connectTcp(caller, `${name}.kill`, { mode });

    const before = new Set(upstreamSockets);
    const c = client(gateway.address.port);
    c.socket.write("ping");
    await until(() => c.received() === "ping", "the echo");
    const upstream = [...upstreamSockets].find((s) => !before.has(s))!;
    upstream.resetAndDestroy(); // the upstream dies
    const { error } = await within(c.closed, 3_000, "the client to see the upstream go");
    expect(error).toBe("ECONNRESET");
    await until(() => exposure.connections === 0 && gateway.connections === 0, "the gateway to let go");

    const before2 = new Set(upstreamSockets);
    const c2 = client(gateway.address.port);
    c2.socket.write("ping");
    await until(() => c2.received() === "ping", "the echo");
    const upstream2 = [...upstreamSockets].find((s) => !before2.has(s))!;
    const upstreamClosed = new Promise((resolve) => upstream2.once("close", resolve));
    c2.socket.resetAndDestroy(); // the client dies
    await within(upstreamClosed, 3_000, "the upstream to see the client go");
    await until(() => exposure.connections === 0 && gateway.connections === 0, "the gateway to let go");
  });

  it("closes live connections when the connector and the exposure close", async () => {
    const exposure = await exposeTcp(exposer, `${name}.close`, `tcp://127.0.0.1:${echoPort}`);
    const gateway = await connectTcp(caller, `${name}.close`, { mode });
    const c = client(gateway.address.port);
    c.socket.write("ping");
    await until(() => c.received() === "ping", "the echo");
    await within(gateway.close(), 3_000, "the connector to close");
    await within(c.ended, 3_000, "the client to be ended");
    c.socket.destroy();
    await within(exposure.close(), 3_000, "the exposure to close");
    await until(() => exposure.connections === 0, "the relays to go");
    expect(await caller.lookup(`${name}.close`)).toEqual([]);
  });
});

describe("resources", () => {
  it("leaks no descriptors", async () => {
    await until(() => upstreamSockets.size === 0, "the upstream sockets to close");
    // Sessions, listener and echo server are still open; everything per connection is gone.
    const extra = 2 /* unix listener + echo server */ + 1; /* slack for the test runner */
    await until(
      () => openFds() <= fdsBefore + extra,
      `fds to return (now ${openFds()}, before ${fdsBefore})`,
    );
  });
});
