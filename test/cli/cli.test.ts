// The beamhub command, run as a user would: real processes, a real hub on a Unix socket.
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  connectHttps,
  connectUnix,
  RequestInterruptedError,
  type Channel,
  type RemoteHub,
} from "../../index.js";
import { encodeKvRecord } from "../../kv/index.js";
import { beamhub, startCli, startEchoServer, startServe, within, type RunningCli } from "./helpers.js";

let dir: string;
let socket: string;
let server: RunningCli & { httpsUrl: string };
let client: RemoteHub;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-cli-"));
  socket = join(dir, "hub.sock");
  server = await startServe(socket, join(dir, "cert"));
  client = await connectUnix(socket);
  await client.register("greet", async (data: { name: string; events?: Channel }) => {
    await data.events?.send({ progress: "looking up" });
    await data.events?.send({ progress: "almost" });
    data.events?.close();
    return `hello ${data.name}`;
  });
  await client.register("broken", () => {
    throw Object.assign(new Error("out of order"), { code: "EBROKEN" });
  });
}, 30_000);

afterAll(async () => {
  await client?.close();
  server?.child.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

describe("beamhub CLI", () => {
  it("also serves https:// with a persisted development certificate", async () => {
    const ca = await readFile(join(dir, "cert", "cert.pem"), "utf8");
    const remote = await connectHttps(server.httpsUrl, { ca });
    try {
      expect(await remote.call("hub.info")).toMatchObject({ version: expect.any(String) });
    } finally {
      await remote.close();
    }
  });

  it("lists services as a table and as JSON", async () => {
    const table = await beamhub(["ls", "--socket", socket]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^NAME\s+ID\s+SESSION\s+LABELS/);
    expect(table.stdout).toMatch(/\ngreet\s+i\d+/);
    const json = await beamhub(["ls", "--socket", socket, "--json", "--prefix", "hub."]);
    expect(JSON.parse(json.stdout).map((s: { name: string }) => s.name)).toEqual(["hub.info"]);
  });

  it("calls a service, prints its events and its reply", async () => {
    const result = await beamhub(["call", "greet", '{"name":"ada"}', "--events", "--socket", socket]);
    expect(result.code).toBe(0);
    expect(result.stdout.split("\n").slice(0, 2)).toEqual([
      '{"progress":"looking up"}',
      '{"progress":"almost"}',
    ]);
    expect(result.stdout).toContain('"hello ada"');
    const fromStdin = await beamhub(["call", "greet", "-", "--socket", socket], {
      input: '{"name":"stdin"}',
    });
    expect(fromStdin.stdout.trim()).toBe('"hello stdin"');
  });

  it("exits with codes scripts can rely on, and says what to try", async () => {
    const missing = await beamhub(["call", "nobody", "--socket", socket]);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toContain('no such service: "nobody"');
    const failed = await beamhub(["call", "broken", "--socket", socket]);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toContain("broken failed: Error EBROKEN: out of order");
    const unreachable = await beamhub(["ls", "--socket", join(dir, "nothing.sock")]);
    expect(unreachable.code).toBe(3);
    expect(unreachable.stderr).toMatch(
      /cannot reach the hub at unix:\/\/.*nothing\.sock.*Is `beamhub serve` running\?/,
    );
    const usage = await beamhub(["frobnicate"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("unknown command");
    const badJson = await beamhub(["call", "greet", "{nope", "--socket", socket]);
    expect(badJson.code).toBe(2);
    const help = await beamhub(["call", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("usage: beamhub call");
  });

  it("watches registrations come and go", async () => {
    const marker = await client.register("temp.marker", () => 1);
    // Existing registrations come first: once the marker shows, the watch is live.
    const watcher = await startCli(
      ["watch", "--prefix", "temp.", "--socket", socket],
      /added\s+temp\.marker/,
    );
    const output = (): string => watcher.stdout();
    try {
      const registration = await client.register("temp.job", () => 1, { labels: { kind: "batch" } });
      await expect.poll(output, { timeout: 5000 }).toMatch(/added\s+temp\.job i\d+ kind=batch/);
      await registration.unregister();
      await expect.poll(output, { timeout: 5000 }).toMatch(/removed\s+temp\.job/);
    } finally {
      await watcher.stop();
      await marker.unregister();
    }
  });

  it("encodes, decodes and inspects kv data", async () => {
    const encoded = await beamhub(["kv", "encode", '{"hello":["beautiful","world"]}']);
    expect(encoded.stdout).toBe("000;5:hello,20:9:beautiful,5:world,,");
    const decoded = await beamhub(["kv", "decode", "-"], { input: encoded.stdout });
    expect(JSON.parse(decoded.stdout)).toEqual({ hello: ["beautiful", "world"] });
    const log = join(dir, "log.kv");
    await writeFile(log, encodeKvRecord({ a: ["1"] }));
    await appendFile(log, encodeKvRecord({ b: ["2"] }));
    await appendFile(log, "99:000;"); // a torn tail, as a crash mid-append leaves
    const inspected = await beamhub(["kv", "inspect", log]);
    expect(inspected.stdout).toContain('@0 {"a":["1"]}');
    expect(inspected.stdout).toContain("2 records");
    expect(inspected.stdout).toMatch(/torn tail at byte \d+/);
    expect(inspected.code).toBe(1);
  });

  it("exposes a TCP endpoint and connects a local port to it", async () => {
    const { server: upstream, port: upstreamPort } = await startEchoServer();
    const started: RunningCli[] = [];
    const run = async (args: string[], ready: RegExp): Promise<RegExpMatchArray> => {
      const running = await startCli([...args, "--socket", socket], ready);
      started.push(running);
      return running.match;
    };
    try {
      await run(["expose", "tcp.echo", `tcp://127.0.0.1:${upstreamPort}`], /exposing/);
      const [, port] = await run(
        ["connect", "tcp.echo", "--listen", "127.0.0.1:0"],
        /listening on 127\.0\.0\.1:(\d+)/,
      );
      const reply = await within(
        new Promise<string>((resolve, reject) => {
          let text = "";
          const socket = connect(Number(port), "127.0.0.1", () => socket.end("through the gateway"));
          socket.on("data", (chunk: Buffer) => (text += chunk.toString()));
          socket.on("end", () => resolve(text));
          socket.on("error", reject);
        }),
        5000,
        "the echo through the gateway",
      );
      expect(reply).toBe("through the gateway");
      // Status on demand (SIGUSR2), and once more as they stop.
      const [exposing, connecting] = started;
      exposing!.child.kill("SIGUSR2");
      connecting!.child.kill("SIGUSR2");
      const exposeStatus = `status: service tcp.echo -> 127.0.0.1:${upstreamPort}: 1 handed over, 0 relayed, 0 failed`;
      const connectStatus = `status: 127.0.0.1:${port} -> service tcp.echo (handoff): 1 accepted, 1 handed over (0 to programs), 0 relayed, 0 failed`;
      await within(
        new Promise<void>((resolve) => {
          const check = (): void =>
            void (exposing!.stderr().includes(exposeStatus) && connecting!.stderr().includes(connectStatus)
              ? resolve()
              : setTimeout(check, 20));
          check();
        }),
        5000,
        "the status lines",
      );
      await Promise.all(started.map((running) => running.stop()));
      expect(connecting!.stderr().split(connectStatus).length - 1).toBe(2);
    } finally {
      await Promise.all(started.map((running) => running.stop()));
      upstream.close();
    }
  });

  it("says why connect and run cannot listen, with exit code 1", async () => {
    const { server: taken, port } = await startEchoServer();
    try {
      const [connected, ran] = await Promise.all([
        beamhub(["connect", "anything", "--listen", String(port), "--socket", socket]),
        beamhub(["run", "--connect", `anything=127.0.0.1:${port}`, "--socket", socket, "--", "true"]),
      ]);
      for (const result of [connected, ran]) {
        expect(result.code).toBe(1);
        expect(result.stderr).toContain(
          `beamhub: cannot listen on 127.0.0.1:${port} for service anything: the port is in use (another program listens there)`,
        );
      }
      const handoff = await beamhub([
        "connect",
        "anything",
        "--listen",
        "0",
        "--handoff-socket",
        socket,
        "--socket",
        socket,
      ]);
      expect(handoff.code).toBe(1);
      expect(handoff.stderr).toContain(`cannot listen on the hand-off socket ${socket}: `);
    } finally {
      taken.close();
    }
  });

  it("shuts down cleanly on SIGTERM: calls in flight fail clearly", async () => {
    await client.register("slow", () => new Promise(() => undefined));
    const pending = client.call("slow");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const exited = new Promise<number | null>((resolve) => server.child.once("exit", resolve));
    server.child.kill("SIGTERM");
    // In flight when the hub went: fails (and is not repeated), saying why.
    await expect(within(pending, 3000, "the pending call")).rejects.toThrow(RequestInterruptedError);
    await expect(pending).rejects.toThrow(/shutting down/);
    expect(await within(exited, 5000, "serve to exit")).toBe(0);
    expect(server.stderr()).toContain("SIGTERM: shutting down");
  });
});
