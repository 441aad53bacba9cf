// The hand-off library (native/handoff-preload.c, LD_PRELOAD) with a real client process: its
// connect() to a gateway's address gets the upstream's connected socket itself, so it talks to
// the upstream with no process of ours in between (its peer address is the upstream's, and the
// connection outlives the connector and the hub). Failures: a refused upstream, a gateway that
// relays, a gateway that is not running, addresses that are not a gateway's, a bad request on
// the hand-off socket. The same with PostgreSQL and `beamhub run`: postgres-handoff.test.ts.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect as connectNet, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectTcp,
  exposeTcp,
  handoffEnvironment,
  handoffLibraryPath,
  type TcpConnector,
} from "../../gateway/index.js";
import { Hub, connectUnix, listenUnix, type HubClient, type UnixListener } from "../../index.js";
import { fdKind, FdSocket, wrapFd } from "../../fd/index.js";
import { within } from "../compliance/suite.js";
import { eventually } from "./pg-bed.js";

const CLIENT = join(import.meta.dirname, "handoff-client.mjs");

let libraryMissing = "";
try {
  handoffLibraryPath();
} catch (error) {
  libraryMissing = (error as Error).message;
}

let dir: string;
let hub: Hub;
let listener: UnixListener;
let exposer: HubClient;
let caller: HubClient;
let upstream: Server;
let upstreamPort: number;
const upstreamSockets = new Set<Socket>();

/** Answers every chunk with "echo:<chunk>". */
function startUpstream(): Promise<void> {
  upstream = createServer((socket) => {
    upstreamSockets.add(socket);
    socket.on("close", () => upstreamSockets.delete(socket));
    socket.on("error", () => undefined);
    socket.on("data", (chunk) => socket.write(`echo:${chunk.toString()}`));
  });
  return new Promise((resolve) =>
    upstream.listen(0, "127.0.0.1", () => {
      upstreamPort = (upstream.address() as { port: number }).port;
      resolve();
    }),
  );
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-handoff-"));
  hub = new Hub();
  listener = await listenUnix(hub, join(dir, "hub.sock"));
  exposer = await connectUnix(join(dir, "hub.sock"));
  caller = await connectUnix(join(dir, "hub.sock"));
  await startUpstream();
});

afterAll(async () => {
  await caller.close();
  await exposer.close();
  await listener.close();
  await hub.close();
  await new Promise((resolve) => upstream.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

interface ClientEvent {
  event: "connected" | "data" | "end" | "error";
  remotePort?: number;
  data?: string;
  code?: string;
}

/** The client program, started with `env`, and its events as they come. */
function startClient(port: number, env: Record<string, string>, extra: string[] = []) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [CLIENT, "127.0.0.1", String(port), ...extra],
    { env: { ...process.env, ...env } },
  );
  const events: ClientEvent[] = [];
  let stderr = "";
  let buffered = "";
  child.stdout.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      events.push(JSON.parse(buffered.slice(0, newline)) as ClientEvent);
      buffered = buffered.slice(newline + 1);
    }
  });
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const next = async (event: ClientEvent["event"]): Promise<ClientEvent> => {
    await eventually(() => events.some((e) => e.event === event), `the client's ${event} event`, 10_000);
    const index = events.findIndex((e) => e.event === event);
    return events.splice(index, 1)[0]!;
  };
  return {
    events,
    next,
    send: (line: string) => child.stdin.write(`${line}\n`),
    stderr: () => stderr,
    finish: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

describe.skipIf(libraryMissing !== "")("the hand-off library", () => {
  it("gives the program the upstream's own socket, which outlives the connector and the hub", async () => {
    const log: string[] = [];
    // A hub of its own, to take it down under the program's feet.
    const ownHub = new Hub();
    const ownListener = await listenUnix(ownHub, join(dir, "own-hub.sock"));
    const ownExposer = await connectUnix(join(dir, "own-hub.sock"));
    const ownCaller = await connectUnix(join(dir, "own-hub.sock"));
    const exposure = await exposeTcp(ownExposer, "echo.handoff", `tcp://127.0.0.1:${upstreamPort}`);
    const connector = await connectTcp(ownCaller, "echo.handoff", {
      handoffSocket: join(dir, "handoff-a.sock"),
      log: (line) => log.push(line),
    });
    const client = startClient(connector.address.port, handoffEnvironment(connector.handoff!.routes));
    const connected = await client.next("connected");
    // The program's peer is the upstream itself, not the connector's port.
    expect(connected.remotePort).toBe(upstreamPort);
    client.send("one");
    expect((await client.next("data")).data).toBe("echo:one");
    expect(connector.connections).toBe(0);
    expect(connector.stats).toMatchObject({ accepted: 0, handedOver: 1, toPrograms: 1, failed: 0 });
    expect(connector.mode).toBe("handoff");
    expect(log).toEqual([expect.stringContaining("handing connections over")]);

    // Nothing of ours is in the path: take all of it down and talk on.
    await connector.close();
    await exposure.close();
    await ownCaller.close();
    await ownExposer.close();
    await ownListener.close();
    await ownHub.close();
    client.send("two");
    expect((await client.next("data")).data).toBe("echo:two");
    expect(await client.finish()).toBe(0);
    await eventually(() => upstreamSockets.size === 0, "the upstream connection to close");
  });

  it("keeps the routes it read as it loaded when the program clears its environment", async () => {
    await using _exposure = await exposeTcp(exposer, "echo.clear-env", `tcp://127.0.0.1:${upstreamPort}`);
    await using connector = await connectTcp(caller, "echo.clear-env", {
      handoffSocket: join(dir, "handoff-clear-env.sock"),
    });
    const env = handoffEnvironment(connector.handoff!.routes);
    const client = startClient(connector.address.port, env, ["clear-env"]);
    expect((await client.next("connected")).remotePort).toBe(upstreamPort);
    expect(await client.finish()).toBe(0);
  });

  it("fails the program's connect with ECONNREFUSED and says why on its stderr when the upstream refuses", async () => {
    const closed = createServer();
    const closedPort = await new Promise<number>((resolve) =>
      closed.listen(0, "127.0.0.1", () => resolve((closed.address() as { port: number }).port)),
    );
    await new Promise((resolve) => closed.close(resolve));
    const log: string[] = [];
    await using _exposure = await exposeTcp(exposer, "echo.refused", `tcp://127.0.0.1:${closedPort}`);
    await using connector = await connectTcp(caller, "echo.refused", {
      handoffSocket: join(dir, "handoff-b.sock"),
      log: (line) => log.push(line),
    });
    const client = startClient(connector.address.port, handoffEnvironment(connector.handoff!.routes));
    expect((await client.next("error")).code).toBe("ECONNREFUSED");
    expect(await client.finish()).toBe(0);
    expect(client.stderr()).toContain(
      `beamhub hand-off: cannot connect to upstream 127.0.0.1:${closedPort}: ECONNREFUSED`,
    );
    expect(log.join("\n")).toContain(`cannot connect to upstream 127.0.0.1:${closedPort}`);
  });

  it("tells the program to connect over TCP when the connector relays", async () => {
    await using _exposure = await exposeTcp(exposer, "echo.relay", `tcp://127.0.0.1:${upstreamPort}`);
    await using connector = await connectTcp(caller, "echo.relay", {
      mode: "relay",
      handoffSocket: join(dir, "handoff-c.sock"),
    });
    const client = startClient(connector.address.port, handoffEnvironment(connector.handoff!.routes));
    expect((await client.next("connected")).remotePort).toBe(connector.address.port);
    client.send("relayed");
    expect((await client.next("data")).data).toBe("echo:relayed");
    expect(await client.finish()).toBe(0);
  });

  it("connects over TCP as usual when no gateway answers at the hand-off socket", async () => {
    const env = handoffEnvironment([`127.0.0.1:${upstreamPort}=${join(dir, "nobody-listens.sock")}`]);
    const client = startClient(upstreamPort, env);
    expect((await client.next("connected")).remotePort).toBe(upstreamPort);
    client.send("plain");
    expect((await client.next("data")).data).toBe("echo:plain");
    expect(await client.finish()).toBe(0);
    expect(client.stderr()).toBe("");
  });

  it("reads IPv6 routes, and skips malformed BEAMHUB_HANDOFF entries without failing the program", async (context) => {
    await using _exposure = await exposeTcp(exposer, "echo.ipv6", `tcp://127.0.0.1:${upstreamPort}`);
    let connector: TcpConnector;
    try {
      connector = await connectTcp(caller, "echo.ipv6", {
        listen: "[::1]:0",
        handoffSocket: join(dir, "handoff-ipv6.sock"),
      });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "EADDRNOTAVAIL")
        return context.skip("no IPv6 loopback here");
      throw error;
    }
    await using _connector = connector;
    expect(connector.handoff!.routes).toEqual([
      `[::1]:${connector.address.port}=${join(dir, "handoff-ipv6.sock")}`,
    ]);
    const garbage = [
      "",
      "no-equals",
      "=/path",
      "[::1=/x",
      "[::1]6432=/x",
      "127.0.0.1:99999=/x",
      "host:12=/x",
      `127.0.0.1:1=${"x".repeat(200)}`,
    ];
    const env = handoffEnvironment([...garbage, ...connector.handoff!.routes]);
    const child = spawn(process.execPath, [CLIENT, "::1", String(connector.address.port)], {
      env: { ...process.env, ...env },
    });
    const output = await within(
      new Promise<string>((resolve) => {
        let text = "";
        child.stdout.on("data", (chunk: Buffer) => {
          text += chunk.toString();
          if (text.includes("\n")) resolve(text);
        });
      }),
      10_000,
      "the client to connect",
    );
    child.kill();
    expect(JSON.parse(output.split("\n")[0]!)).toMatchObject({
      event: "connected",
      remotePort: upstreamPort,
    });
  });

  it("leaves connections to other addresses alone", async () => {
    await using _exposure = await exposeTcp(exposer, "echo.other", `tcp://127.0.0.1:${upstreamPort}`);
    await using connector = await connectTcp(caller, "echo.other", {
      handoffSocket: join(dir, "handoff-d.sock"),
    });
    const plain = createServer((socket) => socket.end("plain server"));
    const plainPort = await new Promise<number>((resolve) =>
      plain.listen(0, "127.0.0.1", () => resolve((plain.address() as { port: number }).port)),
    );
    try {
      const client = startClient(plainPort, handoffEnvironment(connector.handoff!.routes));
      expect((await client.next("connected")).remotePort).toBe(plainPort);
      expect((await client.next("data")).data).toBe("plain server");
      expect(await client.finish()).toBe(0);
      expect(connector.mode).toBe("auto"); // no hand-off was asked for
    } finally {
      await new Promise((resolve) => plain.close(resolve));
    }
  });
});

describe.skipIf(libraryMissing !== "")("the hand-off socket", () => {
  const doc = readFileSync(join(import.meta.dirname, "../../PROTOCOL.md"), "utf8");
  const vectors = [...doc.matchAll(/```handoff-vector\n([\s\S]*?)```/g)].map((match) => {
    const fields = new Map<string, string>();
    for (const line of match[1]!.trim().split("\n")) {
      const colon = line.indexOf(":");
      fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
    }
    return fields;
  });

  it("has its exchanges documented as vectors in PROTOCOL.md", () => {
    expect(vectors.map((vector) => vector.get("name"))).toEqual([
      "a connection",
      "a connector that relays",
      "an unknown request",
    ]);
  });

  it.each(vectors.map((vector) => [vector.get("name")!, vector] as const))(
    "answers as PROTOCOL.md says: %s",
    async (name, vector) => {
      const hex = (field: string): Buffer => Buffer.from(vector.get(field)!.replace(/\s+/g, ""), "hex");
      await using _exposure = await exposeTcp(exposer, "echo.vector", `tcp://127.0.0.1:${upstreamPort}`);
      await using connector = await connectTcp(caller, "echo.vector", {
        mode: name === "a connector that relays" ? "relay" : "handoff",
        handoffSocket: join(dir, "handoff-vector.sock"),
      });
      const socket = await FdSocket.connect(connector.handoff!.path);
      const bytes: Buffer[] = [];
      const fds: number[] = [];
      socket.on("data", (data, received) => {
        bytes.push(data);
        fds.push(...received);
      });
      const ended = new Promise<void>((resolve) => socket.once("end", () => resolve()));
      socket.write(hex("request"));
      await within(ended, 5_000, "the reply");
      socket.destroy();
      expect(Buffer.concat(bytes).toString("hex")).toBe(hex("reply").toString("hex"));
      expect(fds).toHaveLength(Number(vector.get("fds")));
      for (const fd of fds) {
        // The upstream's connected socket: wrapped, it talks to the upstream directly.
        expect(fdKind(fd)).toBe("tcp");
        const upstreamSide = (wrapFd(fd) as { socket: Socket }).socket;
        expect(upstreamSide.remotePort).toBe(upstreamPort);
        upstreamSide.write("direct");
        const reply = await within(
          new Promise<string>((resolve) => upstreamSide.once("data", (chunk) => resolve(chunk.toString()))),
          5_000,
          "the upstream's answer",
        );
        expect(reply).toBe("echo:direct");
        upstreamSide.destroy();
      }
    },
  );

  it("is removed when the connector closes", async () => {
    await using _exposure = await exposeTcp(exposer, "echo.cleanup", `tcp://127.0.0.1:${upstreamPort}`);
    const path = join(dir, "handoff-f.sock");
    const connector = await connectTcp(caller, "echo.cleanup", { handoffSocket: path });
    await connector.close();
    const refused = await new Promise<string>((resolve) => {
      const socket = connectNet(path);
      socket.once("connect", () => resolve("connected"));
      socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    expect(refused).toBe("ENOENT");
  });
});

it.runIf(process.platform === "linux")("the hand-off library is built by the install step", () => {
  expect(libraryMissing).toBe("");
});
