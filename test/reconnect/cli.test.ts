// The CLI's long-running commands under a `beamhub serve` that is killed (SIGKILL) and
// restarted on the same socket and port: `expose` (Unix), `watch` and `connect` (HTTPS) say on
// stderr that the hub went and came back and work again; `beamhub call` started while the hub
// is down succeeds once it is back within --timeout; nothing is registered twice; a watch with
// --reconnect-attempts 3 exits 3 when the hub does not come back. Real processes, bounded waits.
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { beamhub, startEchoServer } from "../cli/helpers.js";
import { freePorts } from "../helpers/ports.js";
import { killAll, startBeamhub, within, type Child } from "./processes.js";

let dir: string;
let echo: { server: Server; port: number };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "beamhub-reconnect-cli-"));
  echo = await startEchoServer();
});

afterAll(async () => {
  killAll();
  echo.server.close();
  await rm(dir, { recursive: true, force: true });
});

const start = startBeamhub;

/** Waits (bounded) until `text()` matches `pattern`. */
async function until(text: () => string, pattern: RegExp, what: string, ms = 20_000): Promise<void> {
  await within(
    new Promise<void>((resolve) => {
      const check = (): void => {
        if (pattern.test(text())) resolve();
        else setTimeout(check, 50);
      };
      check();
    }),
    ms,
    what,
  );
}

/** Sends `text` through a TCP port and reads it back. */
async function roundTrip(port: number, text: string): Promise<string> {
  const socket = connect(port, "127.0.0.1");
  try {
    return await within(
      new Promise<string>((resolve, reject) => {
        let received = "";
        socket.on("data", (chunk: Buffer) => {
          received += chunk.toString();
          if (received.length >= text.length) resolve(received);
        });
        socket.on("error", reject);
        socket.write(text);
      }),
      10_000,
      `"${text}" through port ${port}`,
    );
  } finally {
    socket.destroy();
  }
}

function exitCode(cli: Child, ms = 20_000): Promise<number | null> {
  return within(cli.exited, ms, "the command to exit");
}

/** Watch lines applied as a set: fails on an instance added twice or removed unseen. */
function reportedSet(stdout: string): Set<string> {
  const present = new Set<string>();
  for (const line of stdout.split("\n").filter(Boolean)) {
    const [type, name, id] = line.trim().split(/\s+/);
    const key = `${name} ${id}`;
    if (type === "added") {
      if (present.has(key)) throw new Error(`watch printed ${key} added twice:\n${stdout}`);
      present.add(key);
    } else if (type === "removed" && !present.delete(key)) {
      throw new Error(`watch printed ${key} removed but never added:\n${stdout}`);
    }
  }
  return present;
}

it(
  "expose, watch and connect survive a hub restart; call waits for it; a bounded watch gives up",
  { timeout: 150_000 },
  async () => {
    const socket = join(dir, "hub.sock");
    const certDir = join(dir, "cert");
    const [httpsPort, connectPort] = (await freePorts(2)) as [number, number];
    const serveArgs = [
      "serve",
      "--socket",
      socket,
      "--listen-https",
      `127.0.0.1:${httpsPort}`,
      "--cert-dir",
      certDir,
    ];
    let hub = await start(serveArgs, /press Ctrl-C/);
    const url = `https://127.0.0.1:${httpsPort}`;
    const ca = join(certDir, "cert.pem");
    const overHttps = ["--hub", url, "--ca", ca];

    // One at a time: each start is bounded (15 s), and tsx start-ups compete for the CPU.
    const expose = await start(
      ["expose", "echo.tcp", `tcp://127.0.0.1:${echo.port}`, "--socket", socket],
      /exposing/,
    );
    const watch = await start(["watch", "--prefix", "echo.", ...overHttps], /added\s+echo\.tcp/);
    const connector = await start(
      ["connect", "echo.tcp", "--listen", `127.0.0.1:${connectPort}`, ...overHttps],
      /listening on/,
    );
    expect(await roundTrip(connectPort, "before")).toBe("before");

    hub.child.kill("SIGKILL");
    await exitCode(hub, 5000);
    for (const [cli, name] of [
      [expose, "expose"],
      [watch, "watch"],
      [connector, "connect"],
    ] as const) {
      await until(cli.stderr, /lost the hub at .*; reconnecting/, `${name} to report the lost hub`);
    }

    // Started while the hub is down: they retry within --timeout, then call.
    const calls = Promise.all([
      beamhub(["call", "hub.info", "--socket", socket, "--timeout", "19000"]),
      beamhub(["call", "hub.info", ...overHttps, "--timeout", "19000"]),
    ]);
    await new Promise((resolve) => setTimeout(resolve, 1000));
    hub = await start(serveArgs, /press Ctrl-C/);

    for (const [cli, name] of [
      [expose, "expose"],
      [watch, "watch"],
      [connector, "connect"],
    ] as const) {
      await until(cli.stderr, /reconnected to .* after \d+ ms/, `${name} to reconnect`);
    }
    expect(expose.stderr()).toMatch(/registered echo\.tcp as i\d+ again/);
    for (const result of await within(calls, 25_000, "the calls made during the restart")) {
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toBeTypeOf("object");
    }

    // Registered once; the watch saw the change without duplicates; bytes flow again.
    const listed = await beamhub(["ls", "--prefix", "echo.", "--json", "--socket", socket]);
    const services = JSON.parse(listed.stdout) as { name: string; id: string }[];
    expect(services.map((service) => service.name)).toEqual(["echo.tcp"]);
    await until(
      watch.stdout,
      new RegExp(`added\\s+echo\\.tcp ${services[0]!.id}\\b`),
      "the watch to show the new instance",
    );
    expect([...reportedSet(watch.stdout())]).toEqual([`echo.tcp ${services[0]!.id}`]);
    expect(await roundTrip(connectPort, "after")).toBe("after");

    // A watch that may try 3 times gives up when the hub does not come back, and exits 3.
    const bounded = await start(["watch", "--socket", socket, "--reconnect-attempts", "3"], /added/);
    hub.child.kill("SIGKILL");
    await exitCode(hub, 5000);
    expect(await exitCode(bounded)).toBe(3);
    expect(bounded.stderr()).toMatch(/gave up reconnecting to the hub after 3 attempts/);

    // The unbounded ones are still waiting for their hub; Ctrl-C ends them with 0.
    for (const cli of [expose, watch, connector]) {
      expect(cli.child.exitCode).toBeNull();
      await cli.stop();
      expect(cli.child.exitCode).toBe(0);
    }
  },
);
